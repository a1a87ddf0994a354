/**
 * Property: any string written to UTF-8 var data comes back exactly, and its bytes are
 * Node's UTF-8 bytes for it; any Latin-1 string written to Latin-1 var data likewise. Each
 * value is encoded and decoded twice in a row (the second time through the short-text
 * caches of the generated runtime), between other texts that share a cache slot or not,
 * so a cache hit can never hand back another text's string or bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as f from './generated/features/index.js';

const buf = Buffer.alloc(8192);
const hEnc = new f.MessageHeaderEncoder();
const hDec = new f.MessageHeaderDecoder();
const enc = new f.GroupedEncoder();
const dec = new f.GroupedDecoder();

/** Writes text (UTF-8) and ascii (Latin-1) var data; returns where text's bytes start. */
function write(text: string, ascii: string): number {
  buf.fill(0xee);
  const e = enc.wrapAndApplyHeader(buf, 0, hEnc);
  e.id(1).legsCount(0);
  e.emptyCount(0);
  const textAt = f.MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength() + 2;
  e.text(text).ascii(ascii).blob(new Uint8Array(0));
  return textAt;
}

function read(): { text: string; ascii: string } {
  const d = dec.wrapAndApplyHeader(buf, 0, hDec);
  d.legs();
  d.empty();
  return { text: d.text(), ascii: d.ascii() };
}

// Short strings (the cached and JavaScript-built paths go to 64 bytes) are the point; longer
// ones cover the native paths. Full Unicode (graphemes: no lone surrogates, which UTF-8
// cannot carry), mostly ASCII with a few others, and pure ASCII.
const utf8Text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('a', 'Z', '.', '/', ':', '0') }, { weight: 1, arbitrary: fc.constantFrom('é', '€', '😀', '\u0000', '\u007f', '\u0080') }), maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
);
const latin1Text = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 80 });

describe('var data text round-trips (fast-check)', () => {
  it('UTF-8 and Latin-1 var data: exact strings, Node\'s bytes, twice in a row', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(utf8Text, latin1Text), { minLength: 1, maxLength: 6 }), (pairs) => {
        for (let round = 0; round < 2; round++) {
          for (const [text, ascii] of pairs) {
            const at = write(text, ascii);
            const bytes = Buffer.from(text, 'utf8');
            expect(buf.readUInt16LE(at - 2)).toBe(bytes.length);
            expect(buf.subarray(at, at + bytes.length).equals(bytes)).toBe(true);
            const latin1 = Buffer.from(ascii, 'latin1');
            const asciiAt = at + bytes.length + 4; // a 4-byte length
            expect(buf.subarray(asciiAt, asciiAt + latin1.length).equals(latin1)).toBe(true);
            const got = read();
            expect(got.text).toBe(text);
            expect(got.ascii).toBe(ascii);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
