/**
 * The generated runtime's fast paths against Node's own codecs as the oracle: 64-bit values
 * split into 32-bit halves (a zero high half becomes BigInt(low half), the rest is joined
 * in a scratch array) in both byte orders, and text decoded in JavaScript (short ASCII and
 * Latin-1 by String.fromCharCode, longer ASCII UTF-8 as Latin-1) around every threshold,
 * with non-ASCII bytes at every position and invalid UTF-8, and the short-text caches (a
 * repeated text is decoded and encoded from the cache, never a stale or colliding entry).
 */
import { describe, expect, it } from 'vitest';
import * as f from './generated/features/index.js';
import * as fb from './generated/features-be/index.js';

const INT64_EDGES = [
  0n, 1n, -1n, 42n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, -0x80000000n, -0x80000001n, -0x100000000n,
  1_764_000_000_000_000_000n, -(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n) + 1n,
];
const UINT64_EDGES = [0n, 1n, 0xffffffffn, 0x100000000n, 0x1_0000_0001n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 2n];

describe('64-bit fields as two 32-bit halves', () => {
  for (const [order, m, le] of [['little', f, true], ['big', fb, false]] as const) {
    it(`writes and reads int64 and uint64 edges byte for byte (${order} endian)`, () => {
      const buf = Buffer.alloc(256);
      const hdr = m.MessageHeaderEncoder.ENCODED_LENGTH;
      const i64At = hdr + 15; // c, i8, u8, i16, u16, i32, u32 come first: an odd offset on purpose
      const enc = new m.AllPrimitivesEncoder().wrapAndApplyHeader(buf, 0, new m.MessageHeaderEncoder());
      const dec = new m.AllPrimitivesDecoder();
      for (const v of INT64_EDGES) {
        enc.i64(v);
        const expected = Buffer.alloc(8);
        if (le) expected.writeBigInt64LE(v);
        else expected.writeBigInt64BE(v);
        expect(buf.subarray(i64At, i64At + 8)).toEqual(expected);
        dec.wrapAndApplyHeader(buf, 0, new m.MessageHeaderDecoder());
        expect(dec.i64()).toBe(v);
      }
      for (const v of UINT64_EDGES) {
        enc.u64(v);
        const expected = Buffer.alloc(8);
        if (le) expected.writeBigUInt64LE(v);
        else expected.writeBigUInt64BE(v);
        expect(buf.subarray(i64At + 8, i64At + 16)).toEqual(expected);
        dec.wrapAndApplyHeader(buf, 0, new m.MessageHeaderDecoder());
        expect(dec.u64()).toBe(v);
      }
    });
  }
});

/** Encodes a Grouped message with the given text and ascii var data, returns the decoder positioned on them. */
function groupedWith(text: string | Uint8Array, ascii: string | Uint8Array): f.GroupedDecoder {
  const buf = Buffer.alloc(4096);
  const enc = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
  enc.id(1).legsCount(0);
  enc.emptyCount(0);
  enc.text(text).ascii(ascii).blob(new Uint8Array(0));
  const dec = new f.GroupedDecoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
  dec.legs();
  dec.empty();
  return dec;
}

const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 21, 31, 32, 33, 63, 64, 65, 200, 255, 256, 257, 300, 1000];
const asciiOf = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(0x20 + ((i * 7) % 95))).join('');

describe('text decoded in JavaScript', () => {
  it('decodes ASCII UTF-8 and Latin-1 var data of every length around the thresholds', () => {
    for (const n of LENGTHS) {
      const s = asciiOf(n);
      const dec = groupedWith(s, s);
      expect(dec.text()).toBe(s);
      expect(dec.ascii()).toBe(s);
    }
  });

  it('decodes UTF-8 with a non-ASCII character at any position as Node does', () => {
    for (const n of [1, 4, 5, 21, 32, 33, 64, 256, 257]) {
      for (let at = 0; at < n; at += Math.max(1, Math.floor(n / 9))) {
        for (const ch of ['é', '€', '😀']) {
          const s = asciiOf(at) + ch + asciiOf(n - at - 1);
          expect(groupedWith(s, '').text()).toBe(s);
        }
      }
    }
  });

  it('decodes invalid UTF-8 and high Latin-1 bytes exactly as Buffer#toString', () => {
    for (const n of [1, 3, 8, 21, 32, 33, 100, 300]) {
      const bytes = Buffer.alloc(n, 0x61);
      bytes[n - 1] = 0xff; // never valid in UTF-8
      if (n > 2) bytes[1] = 0xc3; // a truncated two-byte sequence
      const dec = groupedWith(bytes, bytes);
      expect(dec.text()).toBe(bytes.toString('utf8'));
      expect(dec.ascii()).toBe(bytes.toString('latin1'));
    }
  });

  it('decodes char arrays (US-ASCII and UTF-8) up to the first NUL through the same paths', () => {
    const buf = Buffer.alloc(256);
    const enc = new f.AllPrimitivesEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    const dec = new f.AllPrimitivesDecoder();
    for (const [code, name] of [['', ''], ['A', 'é'], ['ABCDEFGH', 'abcdefghijkl'], ['\u00e9\u00ff', 'ab€']]) {
      enc.code(code!).name(name!);
      dec.wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
      expect(dec.code()).toBe(code);
      expect(dec.name()).toBe(name);
    }
  });
});

describe('short text caches', () => {
  /** Texts of one length that share first, middle and last characters: one cache slot. */
  const collide = (n: number, k: number): string => {
    const chars = asciiOf(n).split('');
    for (let i = 1; i < n - 1; i++) if (i !== n >> 1) chars[i] = String.fromCharCode(0x41 + ((i + k) % 26));
    return chars.join('');
  };

  it('decode a repeated text from the cache, and never a stale or colliding one', () => {
    for (let n = 1; n <= 70; n++) {
      const texts = [asciiOf(n), collide(n, 1), collide(n, 2), asciiOf(n)];
      for (const t of texts) {
        const dec = groupedWith(t, t);
        expect(dec.text()).toBe(t);
        expect(dec.ascii()).toBe(t);
      }
    }
    // the same bytes changed in place, in the last partial word and in a whole word
    const buf = Buffer.alloc(256);
    const enc = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    enc.id(1).legsCount(0);
    enc.emptyCount(0);
    enc.text('udp://127.0.0.1:40123').ascii('').blob(new Uint8Array(0));
    const read = (): string => {
      const d = new f.GroupedDecoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderDecoder());
      d.legs();
      d.empty();
      return d.text();
    };
    expect(read()).toBe('udp://127.0.0.1:40123');
    const at = buf.indexOf('udp://');
    buf[at + 20] = 0x34; // last byte
    expect(read()).toBe('udp://127.0.0.1:40124');
    buf[at + 8] = 0x38; // inside a whole word
    expect(read()).toBe('udp://128.0.0.1:40124');
    buf[at + 8] = 0xe9; // not ASCII any more: decoded by Node, as Node does
    expect(read()).toBe(Buffer.from(buf.subarray(at, at + 21)).toString('utf8'));
    // 23 bytes: 5 whole words and a 3-byte tail; byte 21 is neither first, middle nor last
    const tail = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
    tail.id(1).legsCount(0);
    tail.emptyCount(0);
    tail.text('udp://127.0.0.1:4012345').ascii('').blob(new Uint8Array(0));
    expect(read()).toBe('udp://127.0.0.1:4012345');
    buf[at + 21] = 0x39;
    expect(read()).toBe('udp://127.0.0.1:4012395');
  });

  it('keep UTF-8 and Latin-1 apart for bytes that are not ASCII', () => {
    const bytes = Buffer.from([0x61, 0xc3, 0xa9, 0x62]);
    for (let i = 0; i < 2; i++) {
      const dec = groupedWith(bytes, bytes);
      expect(dec.text()).toBe('aéb');
      expect(dec.ascii()).toBe(bytes.toString('latin1'));
    }
  });

  it('encode a repeated text from the cache byte for byte, touching nothing past it', () => {
    const buf = Buffer.alloc(4096);
    for (let n = 1; n <= 70; n++) {
      for (const t of [asciiOf(n), collide(n, 3), `${asciiOf(n)}`.split('').join(''), collide(n, 3), 'é'.repeat(n)]) {
        buf.fill(0xee);
        const enc = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
        enc.id(1).legsCount(0);
        enc.emptyCount(0);
        enc.text(t);
        const expected = Buffer.from(t, 'utf8');
        const at = enc.encodedLength() + f.MessageHeaderEncoder.ENCODED_LENGTH - expected.length;
        expect(buf.subarray(at, at + expected.length).equals(expected)).toBe(true);
        expect(buf[at + expected.length]).toBe(0xee);
      }
    }
  });

  it('encode a cached text that ends exactly at the end of the buffer', () => {
    const t = asciiOf(23);
    const write = (buf: Buffer): number => {
      const enc = new f.GroupedEncoder().wrapAndApplyHeader(buf, 0, new f.MessageHeaderEncoder());
      enc.id(1).legsCount(0);
      enc.emptyCount(0);
      enc.text(t);
      return f.MessageHeaderEncoder.ENCODED_LENGTH + enc.encodedLength();
    };
    const exact = Buffer.alloc(write(Buffer.alloc(4096))); // the text is cached now
    expect(write(exact)).toBe(exact.length);
    expect(exact.subarray(exact.length - t.length).toString('latin1')).toBe(t);
  });
});

describe('views of the wrapped arrays', () => {
  it('reads and writes each array it moves between, small or large, Buffer or Uint8Array', () => {
    const arrays: Uint8Array[] = [Buffer.alloc(64), new Uint8Array(100), Buffer.alloc(65_536), new Uint8Array(70_000), Buffer.alloc(64)];
    const enc = new f.AllPrimitivesEncoder();
    const hdrEnc = new f.MessageHeaderEncoder();
    arrays.forEach((a, i) => {
      // Large arrays hold a whole message near their end, small ones a header only.
      if (a.length >= 256) enc.wrapAndApplyHeader(a, a.length - 200, hdrEnc).i64(BigInt(i) - 2n).u32(i);
      else new f.MessageHeaderEncoder().wrap(a, 0).templateId(100 + i);
    });
    arrays.forEach((a, i) => {
      if (a.length < 256) expect(Buffer.from(a.buffer, a.byteOffset, 4).readUInt16LE(2)).toBe(100 + i);
    });
    const dec = new f.AllPrimitivesDecoder();
    const hdr = new f.MessageHeaderDecoder();
    for (let round = 0; round < 3; round++) {
      arrays.forEach((a, i) => {
        if (a.length < 256) {
          expect(hdr.wrap(a, 0).templateId()).toBe(100 + i);
        } else {
          dec.wrapAndApplyHeader(a, a.length - 200, hdr);
          expect(dec.i64()).toBe(BigInt(i) - 2n);
          expect(dec.u32()).toBe(i);
        }
      });
    }
  });
});
