import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSourceUri, SourceState, StdinSource, type StdinSourceSpec } from '../../src/sources/index.js';
import { until } from '../helpers/wait.js';
import { collector, nextTick, pollUntil } from './helpers.js';

const distIndex = resolve(__dirname, '../../dist/src/sources/index.js');

describe('StdinSource', () => {
  it('reads a real process stdin through a pipe, separator split across writes, trailing event at close', async () => {
    expect(existsSync(distIndex)).toBe(true); // built by the test global setup
    // The child records its stdin with a StdinSource and prints each event as hex.
    const script = `
      import { createSource } from ${JSON.stringify(pathToFileURL(distIndex).href)};
      const src = createSource('stdin:?separator=%0D%0A');
      await src.open();
      process.stdin.on('data', () => process.stderr.write('.')); // ack each read to the test
      const out = [];
      const tick = () => {
        src.poll((b, o, l) => out.push(b.toString('hex', o, o + l)), 100);
        if (src.isEnded()) { process.stdout.write(JSON.stringify({ events: out, counters: src.counters, state: src.state })); }
        else setImmediate(tick);
      };
      tick();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let acks = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (acks += d.toString().split('.').length - 1));
    const parts = ['first\r', '\nsec', 'ond\r\n\r', '\nthird\r', '\n', 'no-separator-tail'];
    for (const [i, p] of parts.entries()) {
      await new Promise<void>((r) => child.stdin.write(p, () => r()));
      // Wait until the child has read this part, so each part is a separate read there.
      while (acks <= i) await new Promise<void>((r) => child.stderr.once('data', () => r()));
    }
    child.stdin.end();
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    const res = JSON.parse(stdout) as { events: string[]; counters: { events: number }; state: string };
    expect(res.events.map((h) => Buffer.from(h, 'hex').toString())).toEqual(['first', 'second', '', 'third', 'no-separator-tail']);
    expect(res.counters.events).toBe(5);
    expect(res.state).toBe(SourceState.ENDED);
  });

  it('pauses the stream when its queue is full (back-pressure, nothing lost)', async () => {
    const stream = new PassThrough({ highWaterMark: 16 });
    const src = new StdinSource(parseSourceUri('stdin:?separator=;') as StdinSourceSpec, { stream, maxQueuedChunks: 2 });
    await src.open();
    const total = 200;
    let written = 0;
    const writeAll = (async () => {
      for (let i = 0; i < total; i++) {
        if (!stream.write(`e${i};`)) await new Promise((r) => stream.once('drain', r));
        written++;
      }
      stream.end();
    })();
    // Nobody polls: the writer is held back instead of the source buffering everything.
    await until('the stream paused', () => stream.isPaused());
    for (let i = 0; i < 10; i++) await nextTick(); // and it stays held back
    expect(stream.isPaused()).toBe(true);
    expect(written).toBeLessThan(total);
    const c = collector();
    await pollUntil(src, c.handler, () => src.isEnded());
    await writeAll;
    expect(c.payloads.map(String)).toEqual(Array.from({ length: total }, (_, i) => `e${i}`));
  });

  it('counts a stream error and ends in FAILED after delivering what came before', async () => {
    const stream = new PassThrough();
    const src = new StdinSource(parseSourceUri('stdin:') as StdinSourceSpec, { stream });
    await src.open();
    stream.write('a\nb\npartial');
    await nextTick();
    stream.destroy(new Error('pipe broke'));
    const c = collector();
    await pollUntil(src, c.handler, () => src.isEnded());
    expect(c.payloads.map(String)).toEqual(['a', 'b', 'partial']);
    expect(src.counters.errors).toBe(1);
    expect(src.state).toBe(SourceState.FAILED);
  });
});
