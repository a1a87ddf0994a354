import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createSource, FileSource, parseSourceUri, SourceState, type FileSourceSpec } from '../../src/sources/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { collector, pollUntil } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vcr-file-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (): string => join(dir, `f${n++}.log`);

function fileSpec(path: string, query = ''): FileSourceSpec {
  return parseSourceUri(`file://${path}${query}`) as FileSourceSpec;
}

describe('FileSource', () => {
  it('reads a whole file, CR LF separated, trailing event without separator, then ends', async () => {
    const path = tmp();
    writeFileSync(path, 'alpha\r\nbeta\r\n\r\ngamma');
    const clock = new ManualClock();
    const src = createSource(`file://${path}?separator=%0D%0A`, { nanoClock: clock, utcClock: clock });
    await src.open();
    const c = collector();
    await pollUntil(src, c.handler, () => src.isEnded());
    expect(c.payloads.map(String)).toEqual(['alpha', 'beta', '', 'gamma']);
    expect(src.state).toBe(SourceState.ENDED);
    expect(src.counters.events).toBe(4);
    expect(src.counters.bytes).toBe(14);
    expect(c.utc.every((u) => u === clock.epochNanos())).toBe(true);
    src.close();
  });

  it('random events with multi-byte separators split across small chunk reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('%0D%0A', '%1E%1F%1E', 'END'),
        fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 64, max: 200 }),
        fc.boolean(),
        async (sepSpec, events, chunkSize, trailing) => {
          const spec = fileSpec(tmp(), `?separator=${sepSpec}`);
          const sep = spec.separator.toString('latin1');
          // events must not contain the separator (else they are not the events written)
          const clean = events.map((e) => e.split(sep).join('x').split(sep[0]!).join('y'));
          writeFileSync(spec.path, clean.join(sep) + (trailing ? sep : ''));
          const src = new FileSource(spec, { chunkSize, maxQueuedChunks: 2 });
          await src.open();
          const c = collector();
          await pollUntil(src, c.handler, () => src.isEnded(), { limit: 3 });
          const expected = trailing || clean[clean.length - 1] !== '' ? clean : clean.slice(0, -1);
          expect(c.payloads.map((b) => b.toString('utf8'))).toEqual(expected);
          src.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reports records longer than maxEventSize and keeps the rest', async () => {
    const path = tmp();
    const big = 'x'.repeat(300);
    writeFileSync(path, `ok1\n${big}\nok2\n${big}`);
    const src = new FileSource(fileSpec(path, '?maxEventSize=100'), { chunkSize: 64 });
    await src.open();
    const c = collector();
    await pollUntil(src, c.handler, () => src.isEnded());
    expect(c.payloads.map(String)).toEqual(['ok1', 'ok2']);
    expect(src.counters.oversize).toBe(2);
  });

  it('keeps memory bounded on a big file: reads only while the queue has room', async () => {
    const path = tmp();
    writeFileSync(path, Buffer.alloc(4_000_000, "abcdefghi\n"));
    const src = new FileSource(fileSpec(path), { chunkSize: 64 * 1024, maxQueuedChunks: 2 });
    await src.open();
    // Not polled: at most one read is issued before the queue is considered.
    for (let i = 0; i < 20; i++) {
      src.poll(() => {}, 0);
      await new Promise((r) => setImmediate(r));
    }
    expect(src.readPosition).toBeLessThanOrEqual(3 * 64 * 1024);
    let count = 0;
    await pollUntil(src, () => count++, () => src.isEnded(), { limit: 100_000 });
    expect(count).toBe(400_000);
  });

  it('fails to open a missing file with SOURCE_FAILED', async () => {
    const src = new FileSource(fileSpec(join(dir, 'missing.log')));
    const err = await src.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVcrError(err, ErrorCode.SOURCE_FAILED)).toBe(true);
    expect(src.state).toBe(SourceState.FAILED);
  });

  it('follows a growing file, survives rotation and truncation', async () => {
    const path = tmp();
    writeFileSync(path, 'a1\na2\npart');
    const clock = new ManualClock();
    const src = new FileSource(fileSpec(path, '?follow=true'), { nanoClock: clock, utcClock: clock, followIntervalNs: 50_000_000n });
    await src.open();
    const c = collector();
    const got = () => c.payloads.map(String);
    const opts = { clock, stepNs: 10_000_000n };
    await pollUntil(src, c.handler, () => c.payloads.length === 2, opts);
    expect(got()).toEqual(['a1', 'a2']);

    appendFileSync(path, 'ial\nb1\n');
    await pollUntil(src, c.handler, () => c.payloads.length === 4, opts);
    expect(got().slice(2)).toEqual(['partial', 'b1']);

    // Rotation: the writer appends a last line to the old file, renames it, creates a new one.
    appendFileSync(path, 'b2\nold-tail');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'c1\nc2\n');
    await pollUntil(src, c.handler, () => c.payloads.length === 8, opts);
    expect(got().slice(4)).toEqual(['b2', 'old-tail', 'c1', 'c2']);
    expect(src.rotations).toBe(1);

    // Truncation (copytruncate): the file shrinks; reading restarts at offset 0.
    truncateSync(path, 0);
    await pollUntil(src, c.handler, () => src.truncations === 1, opts);
    writeFileSync(path, 'd1\n');
    await pollUntil(src, c.handler, () => c.payloads.length === 9, opts);
    expect(got().slice(8)).toEqual(['d1']);
    expect(src.isEnded()).toBe(false);
    src.close();
    expect(src.isEnded()).toBe(true);
  });

  it('follow: a rotated-away file that is recreated later is picked up', async () => {
    const path = tmp();
    writeFileSync(path, 'x1\n');
    const clock = new ManualClock();
    const src = new FileSource(fileSpec(path, '?follow=true'), { nanoClock: clock, utcClock: clock, followIntervalNs: 50_000_000n });
    await src.open();
    const c = collector();
    const opts = { clock, stepNs: 10_000_000n };
    await pollUntil(src, c.handler, () => c.payloads.length === 1, opts);
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, 'x2\n'); // the writer still appends to the renamed file
    await pollUntil(src, c.handler, () => c.payloads.length === 2, opts);
    // Many follow intervals pass with no file at the path.
    for (let i = 0; i < 30; i++) await pollUntil(src, c.handler, () => true, opts);
    expect(src.isEnded()).toBe(false);
    writeFileSync(path, 'y1\ny2\n');
    await pollUntil(src, c.handler, () => c.payloads.length === 4, opts);
    expect(c.payloads.map(String)).toEqual(['x1', 'x2', 'y1', 'y2']);
    expect(src.rotations).toBe(1);
    src.close();
  });

  it('close() while a read is in flight loses nothing else and reports nothing', async () => {
    const path = tmp();
    writeFileSync(path, Buffer.alloc(1_000_000, 'abc\n'));
    const src = new FileSource(fileSpec(path));
    await src.open();
    src.poll(() => {}, 10); // issues the first read
    src.close();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(src.isEnded()).toBe(true);
    expect(src.counters.errors).toBe(0);
    expect(src.poll(() => {}, 10)).toBe(0);
  });
});
