/**
 * Damage an operator can cause while the archiver is stopped: a deleted or damaged catalog,
 * truncated or deleted segment files. Nothing stored may be lost or overwritten, every read
 * of a damaged range fails with a code that says what is wrong, and the rest stays readable.
 * Also: a read starting inside an event is a client mistake (INVALID_POSITION), not damage.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Archiver } from '../../src/archiver/archiver.js';
import { applyConfigDocument, defaultConfig } from '../../src/archiver/archiver-config.js';
import { Archive } from '../../src/storage/archive.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

/** Two stopped recordings: 0 spans three segments (600 events of 200 bytes), 1 has one. */
function makeArchive(): { dir: string; positions: number[][] } {
  const dir = tempDir();
  const a = Archive.open(dir, { segmentLength: SEG });
  const positions: number[][] = [];
  for (const [channel, count] of [['alpha', 600], ['beta', 40]] as const) {
    const w = a.createRecording({ channel, source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < count; i++) {
      const p = Buffer.alloc(200, i & 0xff);
      p.writeUInt32LE(i, 0);
      pos.push(w.append(p, 0, p.length, 1000n + BigInt(i), BigInt(i)));
    }
    w.stop();
    positions.push(pos);
  }
  a.close();
  return { dir, positions };
}

/** SHA-256 of each recording file (comparing digests is fast; deep equality of 64 KiB buffers is not). */
function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of readdirSync(dir)) if (/\.(rec|meta|tix)$/.test(f)) m.set(f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex'));
  return m;
}

const indexes = (events: { payload: Buffer }[]): number[] => events.map((e) => e.payload.readUInt32LE(0));
const range = (from: number, to: number): number[] => [...Array(to - from).keys()].map((i) => i + from);

describe('missing or damaged catalog', () => {
  it('rebuilds a deleted catalog from the metadata files; the next recording gets a new id', () => {
    const { dir } = makeArchive();
    const before = snapshot(dir);
    unlinkSync(join(dir, 'catalog.dat'));
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listRecordings().map((d) => [d.recordingId, d.channel, d.eventCount, d.lifecycle])).toEqual([
      [0, 'alpha', 600, 'stopped'],
      [1, 'beta', 40, 'stopped'],
    ]);
    expect(indexes(collect(b.openReader(0)))).toEqual(range(0, 600));
    expect(b.recoveryActions().length).toBeGreaterThan(0);
    const w = b.createRecording({ channel: 'gamma', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    expect(w.recordingId).toBe(2);
    w.append(Buffer.from('x'), 0, 1, 1n, 1n);
    w.stop();
    b.close();
    const after = snapshot(dir);
    for (const [f, digest] of before) expect(after.get(f)).toBe(digest);
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('refuses to open when segment files have no readable metadata, and overwrites nothing', () => {
    const { dir } = makeArchive();
    unlinkSync(join(dir, 'catalog.dat'));
    unlinkSync(join(dir, '1.meta'));
    const before = snapshot(dir);
    expect(() => Archive.open(dir, { segmentLength: SEG })).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_CATALOG }));
    expect(existsSync(join(dir, 'catalog.dat'))).toBe(false);
    expect(snapshot(dir)).toEqual(before);
    // a damaged metadata file is no better than none
    writeFileSync(join(dir, '1.meta'), Buffer.alloc(4096, 7));
    expect(() => Archive.open(dir, { segmentLength: SEG })).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_CATALOG }));
    expect(snapshot(dir).get('1-0.rec')).toBe(before.get('1-0.rec'));
  });

  it('rebuilds a damaged catalog header; slots that still verify are kept', () => {
    const { dir } = makeArchive();
    const cat = join(dir, 'catalog.dat');
    const bytes = readFileSync(cat);
    bytes.fill(0x5a, 0, 64); // magic, version, lengths and nextRecordingId all gone
    writeFileSync(cat, bytes);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.listRecordings().map((d) => d.recordingId)).toEqual([0, 1]);
    expect(b.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n }).recordingId).toBe(2);
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('never reuses an id whose files are on disk, even when the catalog is an older copy', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    a.createRecording({ channel: 'first', source: 's', startUtcNs: 0n, startMonoNs: 0n }).stop();
    a.close();
    const old = readFileSync(join(dir, 'catalog.dat'));
    const b = Archive.open(dir, { segmentLength: SEG });
    const w = b.createRecording({ channel: 'second', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    w.append(Buffer.from('kept'), 0, 4, 5n, 5n);
    w.stop();
    b.close();
    const seg = readFileSync(join(dir, '1-0.rec'));
    writeFileSync(join(dir, 'catalog.dat'), old); // restored from a backup taken before recording 1
    const c = Archive.open(dir, { segmentLength: SEG });
    expect(c.listRecordings().map((d) => [d.recordingId, d.channel])).toEqual([
      [0, 'first'],
      [1, 'second'],
    ]);
    expect(c.createRecording({ channel: 'third', source: 's', startUtcNs: 0n, startMonoNs: 0n }).recordingId).toBe(2);
    c.close();
    expect(readFileSync(join(dir, '1-0.rec')).equals(seg)).toBe(true);
  });
});

describe('damaged segments', () => {
  it('a truncated segment is reported at open, and every read of it fails with SEGMENT_TRUNCATED', () => {
    const { dir, positions } = makeArchive();
    const pos = positions[0]!;
    truncateSync(join(dir, '0-65536.rec'), 1000);
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.damage()).toEqual([{ recordingId: 0, base: SEG, problem: expect.any(String), code: ErrorCode.SEGMENT_TRUNCATED, codeName: 'SEGMENT_TRUNCATED' }]);
    // from the start: the first segment's events, then the error
    const seen: number[] = [];
    const r = b.openReader(0);
    expect(() => {
      while (!r.isDone()) r.poll((buf, off) => seen.push(buf.readUInt32LE(off)), 50);
    }).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_TRUNCATED }));
    const inFirst = pos.filter((p) => p < SEG).length;
    expect(seen).toEqual(range(0, inFirst));
    // reads inside the damaged segment fail; the third segment still reads
    const firstOfThird = pos.findIndex((p) => p >= 2 * SEG);
    expect(() => collect(b.openReader(0, { position: SEG }))).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_TRUNCATED }));
    expect(indexes(collect(b.openReader(0, { position: pos[firstOfThird]! })))).toEqual(range(firstOfThird, 600));
    expect(() => b.findPosition(0, 1000n + BigInt(inFirst + 5))).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_TRUNCATED }));
    expect(b.findPosition(0, 1000n + BigInt(firstOfThird + 1))).toBe(pos[firstOfThird + 1]);
    const m = b.openMergedReader([{ recordingId: 0 }, { recordingId: 1 }], 0n, 10_000n);
    expect(() => {
      while (!m.isDone()) m.poll(() => undefined, 100);
    }).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_TRUNCATED }));
    expect(collect(b.openReader(1)).length).toBe(40); // other recordings are not affected
    b.close();
    expect(statSync(join(dir, '0-65536.rec')).size).toBe(1000); // nothing was "repaired" away
    const problems = verifyArchive(dir).problems;
    expect(problems.map((p) => [p.recordingId, p.file, p.code])).toContainEqual([0, '0-65536.rec', ErrorCode.SEGMENT_TRUNCATED]);
  });

  it('a deleted segment file gives SEGMENT_MISSING, reported at open and by verify', () => {
    const { dir, positions } = makeArchive();
    unlinkSync(join(dir, '0-0.rec'));
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.damage().map((d) => [d.recordingId, d.base, d.code])).toEqual([[0, 0, ErrorCode.SEGMENT_MISSING]]);
    expect(() => collect(b.openReader(0))).toThrowError(expect.objectContaining({ code: ErrorCode.SEGMENT_MISSING }));
    const second = positions[0]!.findIndex((p) => p >= SEG);
    expect(indexes(collect(b.openReader(0, { position: SEG })))).toEqual(range(second, 600));
    b.close();
    expect(verifyArchive(dir).problems.map((p) => [p.file, p.code])).toContainEqual(['0-0.rec', ErrorCode.SEGMENT_MISSING]);
  });
});

describe('damage at archiver start-up', () => {
  it('is logged, one error line per damaged segment', async () => {
    const { dir } = makeArchive();
    truncateSync(join(dir, '0-65536.rec'), 1000);
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const config = applyConfigDocument(defaultConfig(dir), { control: '127.0.0.1:0' });
    const archiver = await Archiver.launch(config, { logger: pino({ level: 'info' }, sink) });
    await archiver.close();
    expect(lines.filter((l) => l.msg === 'segment damaged')).toEqual([
      expect.objectContaining({ level: 50, recordingId: 0, segmentBase: SEG, code: 'SEGMENT_TRUNCATED', problem: expect.any(String) }),
    ]);
  });
});

describe('read positions', () => {
  it('an aligned position inside an event is INVALID_POSITION; a damaged frame stays CORRUPT_SEGMENT', () => {
    const { dir, positions } = makeArchive();
    const pos = positions[0]!;
    const b = Archive.open(dir, { segmentLength: SEG, indexStride: 256 });
    for (const i of [0, 3, 290, 599]) {
      for (let p = pos[i]! + 8; p < pos[i]! + 232; p += 8) {
        expect(() => collect(b.openReader(0, { position: p }))).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));
      }
      expect(indexes(collect(b.openReader(0, { position: pos[i]!, length: 1 })))).toEqual([i]);
    }
    b.close();
    const bytes = readFileSync(join(dir, '0-0.rec'));
    bytes.writeInt32LE(3, pos[5]!); // frame 5's length is now impossible
    writeFileSync(join(dir, '0-0.rec'), bytes);
    const c = Archive.open(dir, { segmentLength: SEG, indexStride: 256 });
    expect(() => collect(c.openReader(0, { position: pos[5]! }))).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    expect(() => collect(c.openReader(0, { position: pos[7]! }))).not.toThrow();
    c.close();
  });
});
