/** Archive tier: sealed old segments move to an archive location and read exactly as before. */
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { ArchivePass, ArchivePassState, sweepLocation, thawedCount, tierStatus, type ArchivePassOptions, type PausePoint } from '../../src/storage/archive-tier/index.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;
const MS = 1_000_000n;
const T0 = 1_700_000_000_000; // epoch ms of event 0
const DAY = 86_400_000;

function record(a: Archive, channel: string, count: number, size = 200): number {
  const w = a.createRecording({ channel, source: 's', startUtcNs: BigInt(T0) * MS, startMonoNs: 0n });
  for (let i = 0; i < count; i++) {
    const p = Buffer.alloc(size, i & 0xff);
    p.writeUInt32LE(i, 0);
    w.append(p, 0, p.length, (BigInt(T0) + BigInt(i)) * MS, BigInt(i));
  }
  w.stop();
  return w.recordingId;
}

function passOptions(location: string, over: Partial<ArchivePassOptions> = {}): ArchivePassOptions {
  return { locationDir: location, locationId: 'cold', afterAgeMs: DAY, compression: 'deflate', blockSize: 16 * 1024, nowMs: () => T0 + 2 * DAY, ...over };
}

function run(p: ArchivePass): number {
  let cycles = 0;
  while (!p.isDone() && p.state !== ArchivePassState.PAUSED && cycles < 100_000) {
    p.doWork();
    cycles++;
  }
  return cycles;
}

function ids(a: Archive, id: number): number[] {
  return collect(a.openReader(id, { verifyCrc: true })).map((e) => e.payload.readUInt32LE(0));
}

describe('archive tier', () => {
  it('moves sealed old segments to the location, a block per doWork, and reads, seeks and verifies them as before', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = record(a, 'a', 2000);
    const before = collect(a.openReader(id));
    const segs = a.listSegments(id).map((s) => s.base);
    const digests = segs.map((b) => a.verifySegment(id, b).digest);
    const p = new ArchivePass(a, passOptions(loc));
    const cycles = run(p);
    expect(p.state).toBe(ArchivePassState.DONE);
    expect(p.result.failures).toEqual([]);
    expect(p.result.segmentsArchived).toBe(segs.length);
    // bounded work: one block written or verified per cycle at most
    expect(cycles).toBeGreaterThanOrEqual(p.blocksDone);
    expect(p.blocksDone).toBeGreaterThan(segs.length * 2);
    const names = readdirSync(dir);
    expect(names.filter((n) => n.endsWith('.rec'))).toEqual([]);
    expect(names.filter((n) => n.endsWith('.arc')).length).toBe(segs.length);
    expect(readdirSync(loc).filter((n) => n.endsWith('.vcs')).length).toBe(segs.length);
    expect(p.result.bytesOut).toBeLessThan(p.result.bytesIn / 3);
    // reads, seeks, digests: unchanged
    expect(collect(a.openReader(id))).toEqual(before);
    expect(a.findPosition(id, (BigInt(T0) + 1234n) * MS)).toBe(before[1234]!.position);
    const mid = collect(a.openReader(id, { position: before[1500]!.position, verifyCrc: true }));
    expect(mid.length).toBe(500);
    const merged: number[] = [];
    const m = a.openMergedReader([{ recordingId: id }], (BigInt(T0) + 100n) * MS, (BigInt(T0) + 200n) * MS);
    while (m.poll((_r, b, o) => merged.push(b.readUInt32LE(o)), 1000) > 0);
    expect(merged).toEqual([...Array(100).keys()].map((i) => i + 100));
    expect(segs.map((b) => a.verifySegment(id, b).digest)).toEqual(digests);
    a.close();
    // after a restart, and read-only (vcr catalog verify)
    const report = verifyArchive(dir);
    expect(report.problems).toEqual([]);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(collect(b.openReader(id))).toEqual(before);
    expect(b.damage()).toEqual([]);
    const [hot, cold] = tierStatus(b);
    expect(hot!.segments).toBe(0);
    expect(cold!.segments).toBe(segs.length);
    expect(cold!.oldestUtcNs).toBe(BigInt(T0) * MS);
    expect(cold!.newestUtcNs).toBe((BigInt(T0) + 1999n) * MS);
    b.close();
  });

  it('reads of many archived segments keep at most 4 thawed copies', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = record(a, 'a', 3000);
    run(new ArchivePass(a, passOptions(loc)));
    expect(a.listSegments(id).length).toBeGreaterThan(6);
    expect(ids(a, id)).toEqual([...Array(3000).keys()]);
    expect(thawedCount()).toBeLessThanOrEqual(4);
    expect(readdirSync(join(dir, 'thaw')).length).toBeLessThanOrEqual(4);
    a.close();
  });

  it('archives only segments whose every event is older than the age, never the live segment', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'live', source: 's', startUtcNs: BigInt(T0) * MS, startMonoNs: 0n });
    for (let i = 0; i < 1500; i++) {
      const p = Buffer.alloc(200, 1);
      p.writeUInt32LE(i, 0);
      w.append(p, 0, p.length, (BigInt(T0) + BigInt(i)) * MS, BigInt(i));
    }
    w.commit();
    // events 0..999 are older than the cutoff: only whole segments of them go
    const cutoffMs = T0 + 1000;
    const p = new ArchivePass(a, passOptions(loc, { afterAgeMs: DAY, nowMs: () => cutoffMs + DAY }));
    run(p);
    const cutPos = a.findPosition(w.recordingId, BigInt(cutoffMs) * MS);
    const archived = p.result.candidates.map((c) => c.base);
    expect(archived.length).toBeGreaterThan(0);
    for (const base of archived) expect(base + SEG).toBeLessThanOrEqual(cutPos);
    expect(archived).not.toContain(a.openSegmentInfo(w.recordingId)!.base);
    // the recording goes on, and everything reads
    const p2 = Buffer.alloc(200, 2);
    p2.writeUInt32LE(1500, 0);
    w.append(p2, 0, p2.length, (BigInt(T0) + 1500n) * MS, 1500n);
    w.stop();
    expect(ids(a, w.recordingId)).toEqual([...Array(1501).keys()]);
    a.close();
  });

  it('a dry run lists the candidates and changes nothing', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    record(a, 'a', 800);
    const p = new ArchivePass(a, passOptions(loc, { dryRun: true }));
    run(p);
    expect(p.result.candidates.length).toBeGreaterThan(0);
    expect(p.result.segmentsArchived).toBe(0);
    expect(readdirSync(loc)).toEqual([]);
    expect(readdirSync(dir).some((n) => n.endsWith('.arc'))).toBe(false);
    a.close();
  });

  for (const compression of ['none', 'deflate', 'gzip', 'brotli'] as const) {
    it(`round-trips with compression ${compression}`, () => {
      const dir = tempDir();
      const loc = tempDir('vcr-cold-');
      const a = Archive.open(dir, { segmentLength: SEG });
      const id = record(a, 'a', 700, 333);
      const before = collect(a.openReader(id));
      run(new ArchivePass(a, passOptions(loc, { compression })));
      a.close();
      const b = Archive.open(dir, { segmentLength: SEG });
      expect(collect(b.openReader(id, { verifyCrc: true }))).toEqual(before);
      b.close();
    });
  }

  it('deletions apply to archived segments: hidden on read, kept across restarts, a fully deleted segment becomes a tombstone and its copy goes', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = record(a, 'a', 2000);
    run(new ArchivePass(a, passOptions(loc)));
    const r = a.deleteEvents({ fromUtcNs: (BigInt(T0) + 100n) * MS, toUtcNs: (BigInt(T0) + 200n) * MS });
    expect(r.framesDeleted).toBe(100);
    const expected = [...Array(2000).keys()].filter((i) => i < 100 || i >= 200);
    expect(ids(a, id)).toEqual(expected);
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(ids(b, id)).toEqual(expected);
    // every event of the first segment: a tombstone, and the archived copy is removed
    const firstBase = b.listSegments(id)[0]!.base;
    const secondStart = b.listSegments(id)[1]!.base;
    const firstOfSecond = collect(b.openReader(id, { position: secondStart, length: 64 }))[0]!.payload.readUInt32LE(0);
    b.deleteEvents({ fromUtcNs: BigInt(T0) * MS, toUtcNs: (BigInt(T0) + BigInt(firstOfSecond)) * MS });
    expect(b.listSegments(id)[0]!.state).toBe('tombstone');
    b.close();
    const c = Archive.open(dir, { segmentLength: SEG });
    expect(existsSync(join(dir, `${id}-${firstBase}.arc`))).toBe(false);
    expect(existsSync(join(loc, `${id}-${firstBase}.vcs`))).toBe(false);
    expect(ids(c, id)).toEqual(expected.filter((i) => i >= firstOfSecond));
    c.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('a damaged archived block reads as CORRUPT_SEGMENT and a missing copy is reported as damage', () => {
    const dir = tempDir();
    const loc = tempDir('vcr-cold-');
    const a = Archive.open(dir, { segmentLength: SEG });
    const id = record(a, 'a', 600);
    run(new ArchivePass(a, passOptions(loc)));
    a.close();
    const files = readdirSync(loc).filter((n) => n.endsWith('.vcs')).sort();
    const f = join(loc, files[0]!);
    const bytes = readFileSync(f);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(f, bytes);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(() => collect(b.openReader(id))).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    b.close();
    expect(verifyArchive(dir).problems.length).toBeGreaterThan(0);
    unlinkSync(f);
    const c = Archive.open(dir, { segmentLength: SEG });
    expect(c.damage().some((d) => d.code === ErrorCode.SEGMENT_MISSING)).toBe(true);
    c.close();
  });

  const points: PausePoint[] = ['writing', 'written', 'verified', 'recorded', 'removed'];
  for (const at of points) {
    it(`an interrupted pass (stopped at "${at}") is settled at the next open: nothing lost, nothing counted twice`, () => {
      const dir = tempDir();
      const loc = tempDir('vcr-cold-');
      const a = Archive.open(dir, { segmentLength: SEG });
      const id = record(a, 'a', 600);
      const before = collect(a.openReader(id));
      const p = new ArchivePass(a, passOptions(loc, { pauseAt: at }));
      run(p);
      expect(p.state).toBe(ArchivePassState.PAUSED);
      // the pass never goes on (the real SIGKILL at each step is test/e2e/archive.test.ts)
      a.close();
      const b = Archive.open(dir, { segmentLength: SEG });
      sweepLocation(loc, dir);
      expect(collect(b.openReader(id, { verifyCrc: true }))).toEqual(before);
      const base = b.listSegments(id)[0]!.base;
      const rec = existsSync(join(dir, `${id}-${base}.rec`));
      const arc = existsSync(join(dir, `${id}-${base}.arc`));
      const vcs = existsSync(join(loc, `${id}-${base}.vcs`));
      expect(rec !== arc).toBe(true); // exactly one tier holds it
      expect(vcs).toBe(arc);
      expect(readdirSync(loc).some((n) => n.endsWith('.tmp'))).toBe(false);
      const [hot, cold] = tierStatus(b);
      expect(hot!.segments + cold!.segments).toBe(b.listSegments(id).length);
      // a later pass finishes the job
      const again = new ArchivePass(b, passOptions(loc));
      run(again);
      expect(again.result.failures).toEqual([]);
      expect(collect(b.openReader(id, { verifyCrc: true }))).toEqual(before);
      b.close();
      expect(verifyArchive(dir).problems).toEqual([]);
    });
  }
});
