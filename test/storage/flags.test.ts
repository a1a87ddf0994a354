/**
 * Frame flags: a file's last record may have no trailing separator, and the recording must
 * remember it so a replay to a file gives the same bytes. The writer stores the flags in the
 * frame header (covered by the CRC) and every reader hands them out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventFrameHeaderDecoder, FrameFlagsDecoder } from '../../codecs/generated/storage/index.js';
import { Archive } from '../../src/storage/archive.js';
import { dumpFrames } from '../../src/storage/dump.js';
import { FrameFlags } from '../../src/storage/layout.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

describe('frame flags', () => {
  it('are stored in the frame header and handed to every reader', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'file', source: 'file:///x', startUtcNs: 0n, startMonoNs: 0n });
    const records = [Buffer.from('first'), Buffer.alloc(0), Buffer.from([0, 1, 2, 0xff]), Buffer.from('last, no separator')];
    const positions = records.map((r, i) => w.append(r, 0, r.length, BigInt(10 + i), BigInt(i), i === records.length - 1 ? FrameFlags.UNTERMINATED : 0));
    w.stop();
    expect(FrameFlags.UNTERMINATED).toBe(1);

    const seg = readFileSync(join(dir, '0-0.rec'));
    const last = new EventFrameHeaderDecoder().wrap(seg, positions[3]!);
    expect(last.flags()).toBe(1);
    expect(new FrameFlagsDecoder().wrap(seg, positions[3]! + 6).unterminated()).toBe(true);
    expect(new EventFrameHeaderDecoder().wrap(seg, positions[2]!).flags()).toBe(0);

    const seen: [string, number][] = [];
    const r = a.openReader(0);
    while (!r.isDone()) r.poll((b, o, l, _p, _u, _m, flags) => seen.push([b.toString('latin1', o, o + l), flags]), 10);
    expect(seen).toEqual(records.map((x, i) => [x.toString('latin1'), i === 3 ? 1 : 0]));

    const merged: number[] = [];
    const m = a.openMergedReader([{ recordingId: 0 }], 0n, 100n);
    while (!m.isDone()) m.poll((_id, _b, _o, _l, _p, _u, _m, flags) => merged.push(flags), 10);
    expect(merged).toEqual([0, 0, 0, 1]);
    expect([...dumpFrames(dir, a.describe(0))].map((f) => f.flags)).toEqual([0, 0, 0, 1]);
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('with bits this version does not know are refused', () => {
    const a = Archive.open(tempDir(), { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    expect(() => w.append(Buffer.from('x'), 0, 1, 1n, 1n, 2)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => w.append(Buffer.from('x'), 0, 1, 1n, 1n, 0x10000)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(w.position).toBe(0);
    a.close();
  });

  it('are covered by the frame CRC', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const p = w.append(Buffer.from('x'), 0, 1, 1n, 1n, FrameFlags.UNTERMINATED);
    w.stop();
    a.close();
    const path = join(dir, '0-0.rec');
    const bytes = readFileSync(path);
    bytes[p + 6] ^= FrameFlags.UNTERMINATED; // the flag cleared behind the CRC's back
    writeFileSync(path, bytes);
    expect(verifyArchive(dir).problems.map((x) => [x.file, x.offset, x.code])).toEqual([['0-0.rec', p, ErrorCode.CORRUPT_SEGMENT]]);
  });
});
