/**
 * The writer's short-payload path copies and checksums the payload in one pass from any byte
 * offset of the caller's buffer, and reuses the header's CRC state across events that share
 * type, flags and times. Every frame must still carry exactly the CRC a reader recomputes,
 * whatever the payload's length, alignment, flags and times, and whichever buffer it came from.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { FrameStatus, checkFrame, frameCrc } from '../../src/storage/frame.js';
import { FrameFlags, FrameOffset, FrameType } from '../../src/storage/layout.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();

describe('RecordingWriter.append checksums', () => {
  it('match the reader for every length, source offset, flag and time pattern', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 4 * 1024 * 1024 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const sources = [Buffer.alloc(2048), Buffer.alloc(1500)];
    sources.forEach((b, k) => {
      for (let i = 0; i < b.length; i++) b[i] = (i * 131 + k * 17 + (i >> 8)) & 0xff;
    });
    const expected: { position: number; bytes: Buffer; flags: number; utc: bigint; mono: bigint }[] = [];
    let n = 0;
    for (let len = 0; len <= 400; len++) {
      for (let off = 0; off < 9; off++) {
        const src = sources[n % 3 === 0 ? 1 : 0]!;
        // times never go backwards: runs of equal times (the cached header), changes in either
        // word, words with their top bit set
        const utc = 0x7000_0000_8000_0000n + BigInt(n >> 3) * 0x1_0000_0001n;
        const mono = (BigInt(n >> 2) << 31n) + BigInt(n % 5 === 0 ? n : 0);
        const flags = n % 11 === 0 ? FrameFlags.UNTERMINATED : 0;
        const start = (off * 97 + len) % (src.length - len);
        const position = w.append(src, start, len, utc, mono, flags);
        expected.push({ position, bytes: Buffer.from(src.subarray(start, start + len)), flags, utc, mono });
        n++;
      }
    }
    w.stop();
    const seg = readFileSync(join(dir, '0-0.rec'));
    for (const e of expected) {
      expect(checkFrame(seg, e.position, seg.length, true)).toBe(FrameStatus.OK);
      const frameLength = seg.readInt32LE(e.position);
      expect(frameLength).toBe(32 + e.bytes.length);
      expect(seg.readUInt32LE(e.position + FrameOffset.CRC)).toBe(frameCrc(seg, e.position, frameLength, FrameType.DATA) >>> 0);
      expect(seg.readUInt16LE(e.position + FrameOffset.FLAGS)).toBe(e.flags);
      expect(seg.readBigInt64LE(e.position + FrameOffset.UTC)).toBe(e.utc);
      expect(seg.readBigInt64LE(e.position + FrameOffset.MONO)).toBe(e.mono);
      expect(seg.subarray(e.position + 32, e.position + frameLength).equals(e.bytes)).toBe(true);
    }
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });
});
