/**
 * The next segment is built a slice per commit (never a whole 64 MiB allocation in one duty
 * cycle), appears under its name only when complete, and is gone again (with its partial
 * file) when the recording stops first. Whole-file preallocation (segments, replication's part
 * files) allocates every block, with the native addon's fallocate(2) or, without it, fallocate(1).
 */
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { nativeFallocate } from '../../src/storage/native-fallocate.js';
import { preallocateFile } from '../../src/storage/segment-files.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 8 * 1024 * 1024; // 4 slices of 2 MiB
const event = Buffer.alloc(4000, 7);

function fillPast(w: { append(b: Buffer, o: number, l: number, u: bigint, m: bigint): number; position: number }, bytes: number): void {
  let t = 1n;
  while (w.position < bytes) w.append(event, 0, event.length, t, t++);
}

describe('next segment preallocation', () => {
  it('builds the next segment across several commits, then rolls into it', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    fillPast(w, SEG / 2 + 8192);
    const next = join(dir, readdirSync(dir).find((f) => /^0-0\.rec$/.test(f))!.replace('0-0', `0-${SEG}`));
    w.commit();
    expect(existsSync(next)).toBe(false); // one slice is not the whole segment
    expect(existsSync(`${next}.tmp`)).toBe(true);
    for (let i = 0; i < 4; i++) w.commit();
    expect(statSync(next).size).toBe(SEG);
    expect(existsSync(`${next}.tmp`)).toBe(false);
    fillPast(w, SEG + 8192); // rolls into the prepared segment
    w.commit();
    w.stop();
    const r = a.openReader(w.recordingId);
    let n = 0;
    while (r.poll(() => n++, 1000) > 0);
    expect(n).toBeGreaterThan(SEG / 4096);
    a.close();
  });

  it('a recording that stops mid-build leaves no partial or spare segment behind', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    fillPast(w, SEG / 2 + 8192);
    w.commit();
    expect(readdirSync(dir).some((f) => f.endsWith('.rec.tmp'))).toBe(true);
    w.stop();
    a.close();
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.rec'))).toEqual(['0-0.rec']);
  });
});

describe('whole-file preallocation', () => {
  const saved = process.env['VCR_NATIVE_FALLOCATE'];
  afterEach(() => {
    if (saved === undefined) delete process.env['VCR_NATIVE_FALLOCATE'];
    else process.env['VCR_NATIVE_FALLOCATE'] = saved;
  });

  it('allocates every block, by one fallocate(2) call through the native addon, or by fallocate(1) without it', () => {
    const dir = tempDir();
    const length = 16 * 1024 * 1024;
    const f = nativeFallocate();
    expect(f).toBeTypeOf('function'); // the addon npm ci builds from native/ has it
    const fd = openSync(join(dir, 'probe'), 'w');
    expect(f!(fd, 4096)).toBe(0);
    closeSync(fd);
    expect(f!(fd, 4096)).toBe(-constants.errno.EBADF); // closed: an errno, no throw
    for (const native of ['1', '0']) {
      process.env['VCR_NATIVE_FALLOCATE'] = native;
      const path = join(dir, `part-${native}`);
      preallocateFile(path, length);
      const st = statSync(path);
      expect(st.size).toBe(length);
      expect(st.blocks * 512).toBeGreaterThanOrEqual(length);
      expect(existsSync(`${path}.tmp`)).toBe(false);
    }
  });
});
