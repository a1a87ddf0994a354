/**
 * Streamed replays (docs/PROTOCOL.md "Streamed replay") end to end: a real archiver, the real
 * client library, real files, real TCP on 127.0.0.1. One recording by position and length,
 * channels merged in the one merge order, closed intervals, events larger than a batch,
 * follow (growing recordings, recordings that join), deleted events, stop and session end.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ArchiveClient } from '../../src/client/index.js';
import type { RecordedEvent } from '../../src/client/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { launchArchiver, removeDir, until } from './support.js';

async function collect(it: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const text = (events: RecordedEvent[]): string[] => events.map((e) => e.payload.toString());

describe('streamed replay', () => {
  let archiver: Archiver;
  let dir: string;
  let client: ArchiveClient;
  let utc: ManualClock | undefined;

  async function start(doc: Record<string, unknown> = {}, manualUtc = false): Promise<void> {
    utc = manualUtc ? new ManualClock(0n, 1_000_000_000_000n) : undefined;
    ({ archiver, dir } = await launchArchiver(doc, undefined, utc ? { utcClock: utc } : {}));
    client = await ArchiveClient.connect({ archiver: `127.0.0.1:${archiver.controlPort}` });
  }

  afterEach(async () => {
    await client.close();
    await archiver.close();
    removeDir(dir);
  });

  /** Records a file (events separated by newlines) to its end; returns the recordingId. */
  async function recordFile(channel: string, content: string | Buffer, name = channel, query = '', aliases: string[] = []): Promise<number> {
    const file = join(dir, `${name}.txt`);
    writeFileSync(file, content);
    const id = await client.startRecording({ channel, source: `file://${file}${query}`, aliases });
    await until(`${name} recorded`, async () => (await client.describeRecording(id)).state === 'stopped', 10_000);
    return id;
  }

  describe('one recording', () => {
    beforeEach(() => start());

    it('streams every event with its recording, position, times, flags and channel, identical to what was recorded', async () => {
      const lines = Array.from({ length: 5000 }, (_, i) => `event-${i}-${'x'.repeat(i % 300)}`);
      const id = await recordFile('one', lines.join('\n'));
      const got = await collect(client.read({ recordingId: id }));
      expect(text(got)).toEqual(lines);
      expect(got.every((e) => e.channel === 'one' && e.recordingId === id)).toBe(true);
      // the input's last record had no newline after it
      expect(got.map((e) => e.flags ?? 0).filter((f) => f !== 0)).toEqual([1]);
      expect(got.at(-1)!.flags).toBe(1);
      // positions grow by whole frames; times never go backwards
      for (let i = 1; i < got.length; i++) {
        expect(got[i]!.position).toBeGreaterThan(got[i - 1]!.position);
        expect(got[i]!.utcNs >= got[i - 1]!.utcNs).toBe(true);
        expect(got[i]!.monoNs >= got[i - 1]!.monoNs).toBe(true);
      }
      const d = await client.describeRecording(id);
      expect(got[0]!.position).toBe(d.startPosition);
      expect(got[0]!.utcNs >= d.startUtcNs && got.at(-1)!.utcNs <= d.stopUtcNs).toBe(true);
      // the same position and time through the control protocol
      expect(await client.findPosition(id, got[1234]!.utcNs)).toBeLessThanOrEqual(got[1234]!.position);
    });

    it('from a position for a length, and up to a time (closed interval)', async () => {
      const lines = Array.from({ length: 100 }, (_, i) => `L${i}`);
      const id = await recordFile('part', lines.join('\n'));
      const all = await collect(client.read({ recordingId: id }));
      const from = all[10]!.position;
      expect(text(await collect(client.read({ recordingId: id, position: from, length: all[15]!.position - from })))).toEqual(lines.slice(10, 15));
      expect(text(await collect(client.stream({ recordingId: id, position: from, toUtcNs: all[20]!.utcNs })))).toEqual(
        lines.slice(10).filter((_, i) => all[10 + i]!.utcNs <= all[20]!.utcNs),
      );
      const err = await collect(client.read({ recordingId: id, position: from + 3 })).then(() => undefined, (e: unknown) => e);
      expect(isVcrError(err, ErrorCode.INVALID_POSITION)).toBe(true);
      const unknown = await collect(client.read({ recordingId: 999 })).then(() => undefined, (e: unknown) => e);
      expect(isVcrError(unknown, ErrorCode.UNKNOWN_RECORDING)).toBe(true);
    });

    it('events larger than a batch (200 KiB and 3 MiB) arrive whole', async () => {
      const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
      big.write('start', 0);
      big.write('end', big.length - 3);
      const mid = Buffer.alloc(200 * 1024, 0x62);
      const content = Buffer.concat([Buffer.from('small\n'), mid, Buffer.from('\n'), big, Buffer.from('\nlast\n')]);
      const id = await recordFile('large', content, 'large', `?separator=%0A&maxEventSize=${4 * 1024 * 1024}`);
      const got = await collect(client.read({ recordingId: id }));
      expect(got.map((e) => e.payload.length)).toEqual([5, mid.length, big.length, 4]);
      expect(got[1]!.payload.equals(mid)).toBe(true);
      expect(got[2]!.payload.equals(big)).toBe(true);
    });

    it('a payload stays valid after iteration moved on (views into receive memory are never reused)', async () => {
      const lines = Array.from({ length: 20_000 }, (_, i) => `keep-${i}-${'k'.repeat(64)}`);
      const id = await recordFile('keep', lines.join('\n'));
      const kept = await collect(client.read({ recordingId: id }));
      expect(text(kept)).toEqual(lines);
    });

    it('follow: keeps streaming while the recording grows, ends when it stops', async () => {
      const file = join(dir, 'grow.txt');
      writeFileSync(file, 'g0\n');
      const id = await client.startRecording({ channel: 'grow', source: `file://${file}?separator=%0A&follow=true` });
      await until('g0 recorded', async () => (await client.describeRecording(id)).eventCount === 1);
      const got: string[] = [];
      const done = (async () => {
        for await (const e of client.read({ recordingId: id, follow: true })) got.push(e.payload.toString());
      })();
      await until('g0 streamed', () => got.length === 1);
      for (let i = 1; i <= 3; i++) {
        appendFileSync(file, `g${i}\n`);
        await until(`g${i} streamed`, () => got.length === i + 1);
      }
      await client.stopRecording({ recordingId: id });
      await done;
      expect(got).toEqual(['g0', 'g1', 'g2', 'g3']);
    });

  });

  describe('channels', () => {
    beforeEach(() => start({}, true));

    it('merges channels in (utcNs, recordingId, position) order over a closed interval, by primary name or alias', async () => {
      const t0 = utc!.epochNanos();
      const a1 = await recordFile('m.a', 'a1\na2\n', 'a1', '', ['alias.a']);
      utc!.setWallClockNs(t0 + 2000n);
      const b1 = await recordFile('m.b', 'b1\nb2\n', 'b1');
      utc!.setWallClockNs(t0 + 1000n); // a later recording stamped earlier (a clock step): order is by time
      const a2 = await recordFile('m.a', 'a3\n', 'a2');
      utc!.setWallClockNs(t0 + 2000n); // the same time as b1's events: recordingId breaks the tie
      const a3 = await recordFile('m.a', 'a4\n', 'a3');
      const got = await collect(client.events({ channels: ['alias.a', 'm.b'], fromUtcNs: t0, toUtcNs: t0 + 5000n }));
      expect(got.map((e) => `${e.channel}:${e.payload}`)).toEqual(['m.a:a1', 'm.a:a2', 'm.a:a3', 'm.b:b1', 'm.b:b2', 'm.a:a4']);
      expect(got.map((e) => e.recordingId)).toEqual([a1, a1, a2, b1, b1, a3]);
      // closed interval: an event stamped exactly at from or to is in
      expect(text(await collect(client.events({ channels: ['m.a'], fromUtcNs: t0 + 1000n, toUtcNs: t0 + 2000n })))).toEqual(['a3', 'a4']);
      expect(text(await collect(client.events({ channels: ['m.b'], fromUtcNs: t0 + 2001n, toUtcNs: t0 + 9000n })))).toEqual([]);
      const none = await collect(client.events({ channels: ['nosuch'] })).then(() => undefined, (e: unknown) => e);
      expect(isVcrError(none, ErrorCode.UNKNOWN_CHANNEL)).toBe(true);
    });

    it('skips deleted events', async () => {
      const t0 = utc!.epochNanos();
      const file = join(dir, 'del.txt');
      writeFileSync(file, '');
      const id = await client.startRecording({ channel: 'del', source: `file://${file}?separator=%0A&follow=true` });
      for (let i = 0; i < 3; i++) {
        utc!.setWallClockNs(t0 + BigInt(i) * 1000n);
        appendFileSync(file, `d${i}\n`);
        await until(`d${i} recorded`, async () => (await client.describeRecording(id)).eventCount === i + 1);
      }
      await client.stopRecording({ recordingId: id });
      expect(await client.deleteEvents({ channel: 'del', fromUtcNs: t0 + 1000n, toUtcNs: t0 + 1000n })).toBe(1);
      expect(text(await collect(client.read({ recordingId: id })))).toEqual(['d0', 'd2']);
      expect(text(await collect(client.events({ channels: ['del'], fromUtcNs: t0 })))).toEqual(['d0', 'd2']);
    });
  });

  describe('follow over channels', () => {
    beforeEach(() => start());

    it('takes recordings of the channels that start after the stream began, merged in time order; ends when none is live', async () => {
      await recordFile('f.b', 'b0\n', 'fb0');
      const fa = join(dir, 'fa.txt');
      const fb = join(dir, 'fb.txt');
      writeFileSync(fa, 'a0\n');
      const a = await client.startRecording({ channel: 'f.a', source: `file://${fa}?separator=%0A&follow=true` });
      await until('a0', async () => (await client.describeRecording(a)).eventCount === 1);
      const got: string[] = [];
      const done = (async () => {
        for await (const e of client.events({ channels: ['f.a', 'f.b'], follow: true })) got.push(e.payload.toString());
      })();
      await until('b0 a0 streamed', () => got.length === 2);
      writeFileSync(fb, 'b1\n');
      const b = await client.startRecording({ channel: 'f.b', source: `file://${fb}?separator=%0A&follow=true` });
      await until('b1 recorded', async () => (await client.describeRecording(b)).eventCount === 1);
      appendFileSync(fa, 'a2\n');
      await until('a2 recorded', async () => (await client.describeRecording(a)).eventCount === 2);
      await client.stopRecording({ recordingId: a });
      await client.stopRecording({ recordingId: b });
      await done;
      expect(got).toEqual(['b0', 'a0', 'b1', 'a2']);
    });
  });
});
