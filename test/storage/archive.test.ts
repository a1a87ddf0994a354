import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/util/errors.js';
import { Archive } from '../../src/storage/archive.js';
import { dumpFrames } from '../../src/storage/dump.js';
import { ManualClock, cleanupTempDirs, collect, payload, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

describe('Archive: record, read, reopen', () => {
  it('appends events across segments and reads them back after a clean reopen', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG, clock: new ManualClock() });
    const w = a.createRecording({ channel: 'radar.tracks', aliases: ['radar'], source: 'udp://127.0.0.1:9000', startUtcNs: 1000n, startMonoNs: 5n });
    expect(w.recordingId).toBe(0);
    const positions: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const p = payload(i);
      positions.push(w.append(p, 0, p.length, 1000n + BigInt(i) * 10n, 5n + BigInt(i)));
      if (i % 100 === 0) w.commit();
    }
    w.stop(99_999n);
    expect(readdirSync(dir).filter((f) => f.endsWith('.rec')).length).toBeGreaterThan(3);
    a.close();

    const b = Archive.open(dir, { segmentLength: SEG });
    const d = b.describe(0);
    expect(d.lifecycle).toBe('stopped');
    expect(d.cleanStop).toBe(true);
    expect(d.eventCount).toBe(2000);
    expect(d.channel).toBe('radar.tracks');
    expect(d.aliases).toEqual(['radar']);
    expect(d.stopUtcNs).toBe(99_999n);
    const events = collect(b.openReader(0));
    expect(events.length).toBe(2000);
    events.forEach((e, i) => {
      expect(e.position).toBe(positions[i]);
      expect(e.utcNs).toBe(1000n + BigInt(i) * 10n);
      expect(e.monoNs).toBe(5n + BigInt(i));
      expect(e.payload.equals(payload(i))).toBe(true);
    });
    expect(b.listRecordings({ channel: 'radar' }).map((r) => r.recordingId)).toEqual([0]);
    expect(b.listRecordings({ channel: 'other' })).toEqual([]);
    b.close();
  });

  it('reads from a position for a length, and follows a live recording', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < 10; i++) pos.push(w.append(payload(i), 0, payload(i).length, BigInt(i), BigInt(i)));
    const part = collect(a.openReader(0, { position: pos[3], length: pos[6]! - pos[3]! }));
    expect(part.map((e) => e.position)).toEqual(pos.slice(3, 6));
    const follower = a.openReader(0, { follow: true });
    const seen: number[] = [];
    follower.poll((_b, _o, _l, p) => seen.push(p), 100);
    expect(seen).toEqual(pos);
    for (let i = 10; i < 1000; i++) pos.push(w.append(payload(i), 0, payload(i).length, BigInt(i), BigInt(i)));
    while (follower.poll((_b, _o, _l, p) => seen.push(p), 100) > 0);
    expect(seen).toEqual(pos);
    expect(follower.isDone()).toBe(false);
    w.stop();
    follower.poll(() => undefined, 100);
    expect(follower.isDone()).toBe(true);
    a.close();
  });

  it('finds positions by UTC time through the index, without scanning from the start', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG, indexStride: 1024 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < 5000; i++) pos.push(w.append(payload(i, 50), 0, payload(i, 50).length, 1_000n + BigInt(Math.floor(i / 3)) * 100n, BigInt(i)));
    w.commit();
    // utc 1000 + k*100 holds events 3k..3k+2
    expect(a.findPosition(0, 1_000n + 500n * 100n)).toBe(pos[1500]);
    expect(a.findPosition(0, 1_000n + 500n * 100n + 1n)).toBe(pos[1503]);
    expect(a.findPosition(0, 0n)).toBe(pos[0]);
    expect(a.findPosition(0, 10n ** 18n)).toBe(w.position);
    w.stop();
    a.close();
    const b = Archive.open(dir, { readOnly: true, indexStride: 1024 });
    expect(b.findPosition(0, 1_000n + 1234n * 100n)).toBe(pos[3702]);
    b.close();
  });

  it('rejects bad arguments with codes', () => {
    const dir = tempDir();
    expect(() => Archive.open(dir, { segmentLength: 1000 })).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const big = Buffer.alloc(SEG);
    expect(() => w.append(big, 0, big.length, 1n, 1n)).toThrowError(expect.objectContaining({ code: ErrorCode.EVENT_TOO_LARGE }));
    w.append(big, 0, 10, 1n, 1n);
    expect(() => w.append(big, SEG - 5, 10, 1n, 1n)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => a.openReader(0, { position: 3 })).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));
    expect(() => a.openReader(7)).toThrowError(expect.objectContaining({ code: ErrorCode.UNKNOWN_RECORDING }));
    expect(() => a.createRecording({ channel: 'x'.repeat(5000), source: 's', startUtcNs: 0n, startMonoNs: 0n })).toThrowError(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    a.close();
  });

  it('names segments by recording id and base position, fixed length, frames never spanning them', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    a.createRecording({ channel: 'first', source: 's', startUtcNs: 0n, startMonoNs: 0n }).stop();
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const p = Buffer.alloc(5000, 1);
    for (let i = 0; i < 40; i++) w.append(p, 0, p.length, BigInt(i), 0n);
    w.stop();
    const segs = readdirSync(dir).filter((f) => f.endsWith('.rec')).sort();
    expect(segs).toEqual(['1-0.rec', '1-131072.rec', '1-196608.rec', '1-65536.rec']);
    for (const f of segs) expect(statSync(join(dir, f)).size).toBe(SEG);
    const frames = [...dumpFrames(dir, a.describe(1))];
    // 13 frames of 5032 bytes fit in 64 KiB; the rest of each segment is one PADDING frame
    expect(frames.slice(12, 15).map((f) => [f.type, f.segment, f.offset])).toEqual([
      ['DATA', '1-0.rec', 12 * 5032],
      ['PADDING', '1-0.rec', 13 * 5032],
      ['DATA', '1-65536.rec', 0],
    ]);
    for (const f of frames) expect(f.offset + f.length).toBeLessThanOrEqual(SEG);
    a.close();
  });

  it('rebuilds a missing or wrong time index from the segments', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG, indexStride: 256 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < 3000; i++) pos.push(w.append(payload(i, 100), 0, payload(i, 100).length, BigInt(i) * 10n, 0n));
    w.stop();
    a.close();
    const tix = join(dir, '0.tix');
    const good = readFileSync(tix);
    writeFileSync(tix, good.subarray(0, 30)); // truncated header
    const b = Archive.open(dir, { segmentLength: SEG, indexStride: 256 });
    expect(b.recoveryActions()[0]!.actions[0]).toMatch(/time index rebuilt/);
    expect(b.findPosition(0, 12345n)).toBe(pos[1235]);
    b.close();
    expect(readFileSync(tix).equals(good)).toBe(true);
    // an entry that passes the structural checks but points inside a frame
    const bad = Buffer.from(good);
    const e = 64 + 16 * 20;
    bad.writeBigInt64LE(bad.readBigInt64LE(e + 8) + 8n, e + 8);
    writeFileSync(tix, bad);
    const c = Archive.open(dir, { segmentLength: SEG, indexStride: 256 });
    for (const i of [0, 500, 1234, 2999]) expect(c.findPosition(0, BigInt(i) * 10n)).toBe(pos[i]);
    c.close();
  });
});
