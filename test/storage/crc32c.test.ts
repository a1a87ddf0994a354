import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cAligned, crc32cInt32, crc32cJs } from '../../src/util/crc32c.js';

describe('crc32c', () => {
  it('matches the standard check value and the native implementation', () => {
    expect(crc32c(Buffer.from('123456789'), 0, 9)).toBe(0xe3069283);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
        const buf = Buffer.alloc(bytes.length + 8);
        const off = 4; // 4-aligned start, as the word variant requires
        buf.set(bytes, off);
        const expected = nativeCrc32c(Buffer.from(bytes)) >>> 0;
        expect(crc32cJs(buf, off, bytes.length)).toBe(expected);
        expect(crc32c(buf, off, bytes.length)).toBe(expected);
        expect(crc32cAligned(new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2), buf, off, bytes.length)).toBe(expected);
        const split = Math.floor(bytes.length / 2);
        expect(crc32c(buf, off + split, bytes.length - split, crc32c(buf, off, split))).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('crc32cInt32 equals the CRC of the value little-endian bytes', () => {
    const b = Buffer.alloc(4);
    for (const v of [0, 1, 37, -1, 0x7fffffff, 123456789]) {
      b.writeInt32LE(v);
      expect(crc32cInt32(v, 0x1234)).toBe(nativeCrc32c(b, 0x1234) >>> 0);
    }
  });
});
