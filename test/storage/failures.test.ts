/** Failures: full disk, unwritable directory, corrupt catalog, metadata and segment bytes, torn tails, locking. */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { ManualClock, cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

function withTmpfs<T>(size: string, fn: (dir: string) => T): T {
  const dir = join(tempDir(), 'mnt');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  try {
    return fn(dir);
  } finally {
    execFileSync('umount', ['-l', dir]);
  }
}

const event = Buffer.alloc(1000, 0x61);

describe('storage failures', () => {
  it('disk full stops only the affected recording with STORAGE_FULL and keeps what it stored', () => {
    withTmpfs('4m', (dir) => {
      const a = Archive.open(dir, { segmentLength: 1024 * 1024 });
      const other = a.createRecording({ channel: 'other', source: 's', startUtcNs: 0n, startMonoNs: 0n });
      other.append(event, 0, 10, 1n, 1n);
      const w = a.createRecording({ channel: 'big', source: 's', startUtcNs: 0n, startMonoNs: 0n });
      let stored = 0;
      let error: unknown;
      for (let i = 0; i < 10_000; i++) {
        try {
          w.append(event, 0, event.length, BigInt(i), BigInt(i));
          stored++;
          if (i % 50 === 0) a.doWork();
        } catch (err) {
          error = err;
          break;
        }
      }
      expect(error).toMatchObject({ code: ErrorCode.STORAGE_FULL });
      expect(stored).toBeGreaterThan(1000);
      expect(w.isFailed).toBe(true);
      expect(() => w.append(event, 0, 1, 0n, 0n)).toThrowError(expect.objectContaining({ code: ErrorCode.STORAGE_FULL }));
      expect(a.describe(w.recordingId)).toMatchObject({ lifecycle: 'failed', failureCode: ErrorCode.STORAGE_FULL, eventCount: stored });
      // no room for a new recording's first segment: it is created FAILED, and says why
      expect(() => a.createRecording({ channel: 'late', source: 's', startUtcNs: 0n, startMonoNs: 0n })).toThrowError(
        expect.objectContaining({ code: ErrorCode.STORAGE_FULL }),
      );
      expect(a.listRecordings({ channel: 'late' })).toMatchObject([{ lifecycle: 'failed', failureCode: ErrorCode.STORAGE_FULL, eventCount: 0 }]);
      // the other recording still works within its segment
      other.append(event, 0, 20, 2n, 2n);
      other.stop();
      const got = collect(a.openReader(w.recordingId, { verifyCrc: true }));
      expect(got.length).toBe(stored);
      a.close();
      const b = Archive.open(dir);
      expect(collect(b.openReader(w.recordingId)).length).toBe(stored);
      expect(collect(b.openReader(other.recordingId)).length).toBe(2);
      expect(b.describe(w.recordingId).lifecycle).toBe('failed');
      b.close();
      expect(verifyArchive(dir).problems).toEqual([]);
    });
  });

  it('an unwritable directory gives STORAGE_UNWRITABLE; its data stays readable read-only', () => {
    const src = tempDir();
    const a = Archive.open(src, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    for (let i = 0; i < 100; i++) w.append(event, 0, 100, BigInt(i), 0n);
    w.stop();
    a.close();
    withTmpfs('2m', (dir) => {
      cpSync(src, dir, { recursive: true });
      execFileSync('mount', ['-o', 'remount,ro', dir]);
      expect(() => Archive.open(dir)).toThrowError(expect.objectContaining({ code: ErrorCode.STORAGE_UNWRITABLE }));
      const ro = Archive.open(dir, { readOnly: true });
      expect(collect(ro.openReader(0)).length).toBe(100);
      ro.close();
    });
  });

  it('a corrupt catalog entry affects only its recording; a good metadata file rebuilds it', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    for (let r = 0; r < 3; r++) {
      const w = a.createRecording({ channel: `c${r}`, source: 's', startUtcNs: 0n, startMonoNs: 0n });
      for (let i = 0; i < 10; i++) w.append(event, 0, 50, BigInt(i), 0n);
      w.stop();
    }
    a.close();
    const cat = join(dir, 'catalog.dat');
    const bytes = readFileSync(cat);
    bytes[4096 * 2 + 40] ^= 0xff; // recording 1
    bytes[4096 * 3 + 2000] ^= 0x01; // recording 2
    writeFileSync(cat, bytes);
    writeFileSync(join(dir, '1.meta'), Buffer.alloc(4096, 0x33)); // recording 1 loses its duplicate too
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.damagedRecordings().map((d) => [d.recordingId, d.error.code])).toEqual([[1, ErrorCode.CORRUPT_CATALOG]]);
    expect(() => b.describe(1)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_CATALOG }));
    expect(b.describe(2).channel).toBe('c2'); // rebuilt from its metadata file
    expect(b.recoveryActions().map((x) => x.recordingId)).toEqual([2]);
    expect(collect(b.openReader(0)).length).toBe(10);
    expect(collect(b.openReader(2)).length).toBe(10);
    expect(b.createRecording({ channel: 'new', source: 's', startUtcNs: 0n, startMonoNs: 0n }).recordingId).toBe(3);
    b.close();
    expect(readFileSync(cat).subarray(4096 * 2, 4096 * 3).equals(bytes.subarray(4096 * 2, 4096 * 3))).toBe(true); // nothing overwritten
  });

  it('corrupt segment bytes give CORRUPT_SEGMENT naming segment and offset, after the good frames', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < 20; i++) pos.push(w.append(event, 0, 100, BigInt(i), 0n));
    w.stop();
    a.close();
    const seg = join(dir, '0-0.rec');
    const bytes = readFileSync(seg);
    bytes.writeInt32LE(0x7fff0000, pos[5]!); // length field of frame 5
    bytes[pos[9]! + 40] ^= 1; // payload byte of frame 9
    writeFileSync(seg, bytes);
    const b = Archive.open(dir, { segmentLength: SEG });
    const got: number[] = [];
    const r = b.openReader(0);
    expect(() => {
      while (!r.isDone()) r.poll((_b, _o, _l, p) => got.push(p), 100);
    }).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT, message: expect.stringContaining(`0-0.rec, offset ${pos[5]}`) }));
    expect(got).toEqual(pos.slice(0, 5));
    const crc = b.openReader(0, { position: pos[6]!, verifyCrc: true });
    expect(() => collect(crc)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT, message: expect.stringContaining(`offset ${pos[9]}`) }));
    b.close();
  });

  it('recovery cuts a torn tail (unwritten length, bad CRC) and zeroes it; a bad metadata file falls back to the catalog', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const pos: number[] = [];
    for (let i = 0; i < 30; i++) pos.push(w.append(event, 0, 64, BigInt(i), 0n));
    w.commit();
    const end = w.position;
    // simulate a crash: the writer is abandoned without stop; forge torn frames after the end
    const seg = join(dir, '0-0.rec');
    const bytes = readFileSync(seg);
    bytes.copy(bytes, end, pos[0]!, pos[1]!); // a complete copy of frame 0 ...
    bytes.writeBigInt64LE(999n, end + 8); // ... whose utc changed: CRC no longer matches
    bytes.fill(0x77, end + 200, end + 300); // payload bytes of a frame whose length was never written
    writeFileSync(seg, bytes);
    writeFileSync(join(dir, '0.meta'), Buffer.alloc(4096, 1)); // torn metadata update
    (a as unknown as { mark: { release(): void } }).mark.release(); // the "crashed" process is gone
    const b = Archive.open(dir, { segmentLength: SEG });
    expect(b.describe(0)).toMatchObject({ lifecycle: 'stopped', cleanStop: false, stopPosition: end, eventCount: 30 });
    expect(collect(b.openReader(0, { verifyCrc: true })).map((e) => e.position)).toEqual(pos);
    expect(readFileSync(seg).subarray(end).every((x) => x === 0)).toBe(true);
    b.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('locks the directory: a live owner blocks a second open, a killed one does not', async () => {
    const dir = tempDir();
    const first = Archive.open(dir, { segmentLength: SEG });
    expect(() => Archive.open(dir)).toThrowError(expect.objectContaining({ code: ErrorCode.ARCHIVE_LOCKED }));
    first.close();
    const child = spawn(process.execPath, [resolve(__dirname, 'fixtures/append-child.mjs'), dir, '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    expect(() => Archive.open(dir)).toThrowError(expect.objectContaining({ code: ErrorCode.ARCHIVE_LOCKED }));
    const ro = Archive.open(dir, { readOnly: true });
    expect(ro.describe(0).lifecycle).toBe('recording');
    ro.close();
    child.kill('SIGKILL');
    await exited;
    const again = Archive.open(dir);
    expect(again.describe(0).lifecycle).toBe('stopped');
    again.close();
  });

  it('fileSyncLevel decides when data is msync-ed', () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const a = Archive.open(dir, { segmentLength: SEG, fileSyncLevel: 1, syncIntervalMs: 500, clock });
    const w1 = a.createRecording({ channel: 'l1', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    w1.append(event, 0, 10, 1n, 1n);
    w1.commit();
    w1.commit();
    expect(w1.syncCount).toBe(0);
    clock.ms += 500;
    w1.commit();
    expect(w1.syncCount).toBe(1);
    w1.commit();
    expect(w1.syncCount).toBe(1);
    a.close();
    const b = Archive.open(dir, { segmentLength: SEG, fileSyncLevel: 2, clock });
    const w2 = b.createRecording({ channel: 'l2', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    w2.commit();
    w2.commit();
    expect(w2.syncCount).toBe(2);
    b.close();
    const c = Archive.open(dir, { segmentLength: SEG, fileSyncLevel: 0, clock });
    const w0 = c.createRecording({ channel: 'l0', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    clock.ms += 10_000;
    w0.commit();
    expect(w0.syncCount).toBe(0);
    c.close();
  });
});
