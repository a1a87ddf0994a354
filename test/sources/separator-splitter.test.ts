import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeparatorSplitter } from '../../src/util/separator.js';

/** Reference: split the whole input at once (what streaming must agree with). */
function referenceSplit(input: Buffer, sep: Buffer, max: number): { events: Buffer[]; oversize: number[] } {
  const events: Buffer[] = [];
  const oversize: number[] = [];
  let pos = 0;
  for (;;) {
    const j = input.indexOf(sep, pos);
    const end = j < 0 ? input.length : j;
    if (j < 0 && pos >= input.length) break;
    const len = end - pos;
    if (len > max) oversize.push(len);
    else events.push(Buffer.from(input.subarray(pos, end)));
    if (j < 0) break;
    pos = j + sep.length;
  }
  return { events, oversize };
}

function splitInChunks(input: Buffer, cuts: number[], sep: Buffer, max: number, limit: number) {
  const events: Buffer[] = [];
  const oversize: number[] = [];
  const sp = new SeparatorSplitter(sep, { maxEventSize: max, onOversize: (l) => oversize.push(l) });
  const h = (b: Buffer, o: number, l: number) => events.push(Buffer.from(b.subarray(o, o + l)));
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, input.length]) {
    if (p <= prev) continue;
    sp.feed(input.subarray(prev, p));
    while (sp.hasInput) sp.drain(h, limit);
    prev = p;
  }
  sp.finish(h);
  return { events, oversize, sp };
}

describe('SeparatorSplitter', () => {
  it('splits a single chunk and emits the trailing event at finish', () => {
    const out: string[] = [];
    const sp = new SeparatorSplitter(Buffer.from('\n'));
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    expect(sp.push(Buffer.from('a\nbb\n\nccc'), h)).toBe(3);
    expect(out).toEqual(['a', 'bb', '']);
    expect(sp.pendingBytes).toBe(3);
    expect(sp.finish(h)).toBe(1);
    expect(out).toEqual(['a', 'bb', '', 'ccc']);
    expect(sp.events).toBe(4);
  });

  it('finds a CR LF separator split across chunks, byte by byte', () => {
    const out: string[] = [];
    const sp = new SeparatorSplitter(Buffer.from('\r\n'));
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    for (const ch of 'ab\r\ncd\r\r\n\r\nxy\r') sp.push(Buffer.from(ch), h);
    sp.finish(h);
    expect(out).toEqual(['ab', 'cd\r', '', 'xy\r']);
  });

  it('finds a 4-byte separator spread over three chunks', () => {
    const out: string[] = [];
    const sp = new SeparatorSplitter(Buffer.from('<!>|'));
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    sp.push(Buffer.from('hello<'), h);
    sp.push(Buffer.from('!'), h);
    sp.push(Buffer.from('>|world<!'), h);
    sp.push(Buffer.from('<!>|end'), h);
    sp.finish(h);
    expect(out).toEqual(['hello', 'world<!', 'end']);
  });

  it('reports and skips records longer than the maximum, never cutting them', () => {
    const out: string[] = [];
    const over: number[] = [];
    const sp = new SeparatorSplitter(Buffer.from('\n'), { maxEventSize: 4, onOversize: (l) => over.push(l) });
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    sp.push(Buffer.from('1234\n12345\nab'), h);
    sp.push(Buffer.from('cdefgh'), h); // a record growing past the limit across chunks
    sp.push(Buffer.from('ij\nok\n123456789'), h);
    sp.finish(h); // trailing oversize record
    expect(out).toEqual(['1234', 'ok']);
    expect(over).toEqual([5, 10, 9]);
    expect(sp.oversize).toBe(3);
  });

  it('accepts an event of exactly the maximum whose separator is split', () => {
    const out: string[] = [];
    const sp = new SeparatorSplitter(Buffer.from('\r\n'), { maxEventSize: 3, onOversize: () => out.push('!') });
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    sp.push(Buffer.from('abc\r'), h);
    sp.push(Buffer.from('\nxyz'), h);
    sp.finish(h);
    expect(out).toEqual(['abc', 'xyz']);
  });

  it('stops at the limit and resumes where it stopped', () => {
    const sp = new SeparatorSplitter(Buffer.from(','));
    const out: string[] = [];
    const h = (b: Buffer, o: number, l: number) => out.push(b.toString('utf8', o, o + l));
    sp.feed(Buffer.from('a,b,c,d,e'));
    expect(sp.drain(h, 2)).toBe(2);
    expect(sp.hasInput).toBe(true);
    expect(sp.drain(h, 2)).toBe(2);
    expect(sp.drain(h, 2)).toBe(0);
    expect(sp.hasInput).toBe(false);
    expect(() => sp.feed(Buffer.from('x'))).not.toThrow();
    expect(() => sp.feed(Buffer.from('y'))).toThrow();
    sp.drain(h);
    sp.finish(h);
    expect(out).toEqual(['a', 'b', 'c', 'd', 'ex']);
  });

  it('does not re-emit an event whose handler threw', () => {
    const sp = new SeparatorSplitter(Buffer.from('\n'));
    const seen: string[] = [];
    let first = true;
    const h = (b: Buffer, o: number, l: number) => {
      seen.push(b.toString('utf8', o, o + l));
      if (first) {
        first = false;
        throw new Error('boom');
      }
    };
    sp.feed(Buffer.from('a\nb\n'));
    expect(() => sp.drain(h)).toThrow('boom');
    sp.drain(h);
    expect(seen).toEqual(['a', 'b']);
  });

  it('agrees with a whole-input split for random events, separators and chunkings', () => {
    const sepArb = fc.oneof(
      fc.constant(Buffer.from('\n')),
      fc.constant(Buffer.from('\r\n')),
      fc.uint8Array({ minLength: 1, maxLength: 5 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(
        sepArb,
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }),
        fc.array(fc.nat(2000), { maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        (sep, parts, cuts, max, limit, trailingSep) => {
          // Events are built from random bytes (they may contain pieces of the separator:
          // the reference split defines what the right answer is).
          const pieces: Buffer[] = [];
          parts.forEach((p, i) => {
            pieces.push(Buffer.from(p));
            if (i < parts.length - 1 || trailingSep) pieces.push(sep);
          });
          const input = Buffer.concat(pieces);
          const ref = referenceSplit(input, sep, max);
          const got = splitInChunks(input, cuts, sep, max, limit);
          expect(got.events.map((b) => b.toString('hex'))).toEqual(ref.events.map((b) => b.toString('hex')));
          expect(got.oversize).toEqual(ref.oversize);
          expect(got.sp.events).toBe(ref.events.length);
        },
      ),
      { numRuns: 400 },
    );
  });
});
