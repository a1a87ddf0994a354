import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { FrameDecoder, InboundQueue, ReceiveSlab } from '../../src/transport/index.js';
import { checkPayload, payload, wire } from './helpers.js';

/** Feeds `chunks` through a decoder into a queue and returns the sequences polled, or the error. */
function run(chunks: Buffer[], maxFrameLength?: number): { seqs: number[]; error?: unknown } {
  const decoder = new FrameDecoder(maxFrameLength);
  const queue = new InboundQueue();
  const seqs: number[] = [];
  try {
    for (const c of chunks) decoder.decode(c, (b, s, e, n) => queue.append(b, s, e, n));
  } catch (error) {
    queue.poll((b, o, l) => seqs.push(checkPayload(b, o, l)), Infinity);
    return { seqs, error };
  }
  queue.poll((b, o, l) => seqs.push(checkPayload(b, o, l)), Infinity);
  expect(queue.isEmpty).toBe(true);
  expect(queue.frames).toBe(0);
  return { seqs };
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(Buffer.from(bytes.subarray(prev, p)));
    prev = p;
  }
  return out;
}

describe('FrameDecoder', () => {
  it('decodes frames whatever the chunking: split anywhere, many per chunk, empty chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 8, max: 3000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(200_000), { maxLength: 60 }),
        (sizes, cuts) => {
          const bytes = Buffer.concat(sizes.map((s, i) => wire(payload(i, s))));
          const { seqs, error } = run(split(bytes, cuts));
          expect(error).toBeUndefined();
          expect(seqs).toEqual(sizes.map((_, i) => i));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes a frame delivered one byte at a time, including its length prefix', () => {
    const bytes = Buffer.concat([wire(payload(1, 8)), wire(payload(2, 300)), wire(payload(3, 9))]);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(run(chunks).seqs).toEqual([1, 2, 3]);
  });

  it('hands over whole frames inside one chunk as views of it (no copy)', () => {
    const chunk = Buffer.concat([wire(payload(1, 100)), wire(payload(2, 100)), wire(payload(3, 100)).subarray(0, 50)]);
    const runs: [Buffer, number, number, number][] = [];
    const d = new FrameDecoder();
    d.decode(chunk, (b, s, e, n) => runs.push([b, s, e, n]));
    expect(runs).toHaveLength(1);
    expect(runs[0]![0]).toBe(chunk);
    expect(runs[0]!.slice(1)).toEqual([0, 208, 2]);
    expect(d.partialBytes).toBe(50);
  });

  it('refuses a frame longer than the maximum with REQUEST_TOO_LARGE, after the good frames before it', () => {
    const bad = Buffer.alloc(4);
    bad.writeUInt32LE(1025, 0);
    const { seqs, error } = run([Buffer.concat([wire(payload(1, 20)), bad, Buffer.alloc(100)])], 1024);
    expect(seqs).toEqual([1]);
    expect(isVcrError(error, ErrorCode.REQUEST_TOO_LARGE)).toBe(true);
  });

  it('refuses an oversized length whose prefix is split across chunks, before buffering its body', () => {
    const bad = Buffer.alloc(4);
    bad.writeUInt32LE(0xffff_ffff, 0);
    const d = new FrameDecoder(1024);
    d.decode(bad.subarray(0, 3), () => {});
    expect(() => d.decode(bad.subarray(3), () => {})).toThrow(expect.objectContaining({ code: ErrorCode.REQUEST_TOO_LARGE }));
    expect(d.partialBytes).toBe(0);
    // failed for good: the stream has lost its framing
    expect(() => d.decode(wire(payload(1, 8)), () => {})).toThrow(expect.objectContaining({ code: ErrorCode.REQUEST_TOO_LARGE }));
  });

  it('refuses a frame shorter than a message header with MALFORMED_MESSAGE', () => {
    const { error } = run([Buffer.from([7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7])]);
    expect(isVcrError(error, ErrorCode.MALFORMED_MESSAGE)).toBe(true);
    expect(isVcrError(run([Buffer.from([0, 0, 0, 0])]).error, ErrorCode.MALFORMED_MESSAGE)).toBe(true);
  });

  it('holds only the bytes received for a partial frame, not the length it claims', () => {
    const d = new FrameDecoder();
    const head = Buffer.alloc(10);
    head.writeUInt32LE(16 * 1024 * 1024, 0);
    d.decode(head, () => {});
    expect(d.partialBytes).toBe(10);
  });

  it('never throws anything but a coded VcrError on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const d = new FrameDecoder(4096);
        let error: unknown;
        let frames = 0;
        try {
          for (const c of chunks) d.decode(Buffer.from(c), (b, s, e, n) => (frames += n));
        } catch (err) {
          error = err;
        }
        expect(frames).toBeGreaterThanOrEqual(0);
        if (error !== undefined) {
          expect(isVcrError(error, ErrorCode.REQUEST_TOO_LARGE) || isVcrError(error, ErrorCode.MALFORMED_MESSAGE)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a maximum frame length outside 8..2^32-1', () => {
    expect(() => new FrameDecoder(7)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new FrameDecoder(2 ** 32)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});

describe('ReceiveSlab (reads into its own memory)', () => {
  /** Feeds `bytes` as reads of the given sizes (each capped to the room offered). */
  function feed(slab: ReceiveSlab, bytes: Buffer, readSizes: number[]): { runs: [Buffer, number, number, number][]; error?: unknown } {
    const runs: [Buffer, number, number, number][] = [];
    let pos = 0;
    let i = 0;
    try {
      while (pos < bytes.length) {
        const room = slab.nextBuffer();
        const n = Math.min(room.length, bytes.length - pos, Math.max(1, readSizes[i++ % readSizes.length]!));
        bytes.copy(room, 0, pos, pos + n);
        pos += n;
        slab.received(n, (b, s, e, f) => runs.push([b, s, e, f]));
      }
    } catch (error) {
      return { runs, error };
    }
    return { runs };
  }

  function seqsOf(runs: [Buffer, number, number, number][]): number[] {
    const q = new InboundQueue();
    for (const [b, s, e, f] of runs) q.append(b, s, e, f);
    const seqs: number[] = [];
    q.poll((b, o, l) => seqs.push(checkPayload(b, o, l)), Infinity);
    return seqs;
  }

  it('decodes frames whatever the read sizes, frames larger than the slab included, and never overwrites what it handed out', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 8, max: 2000 }), fc.integer({ min: 60_000, max: 1_300_000 })), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 10 }),
        (sizes, reads) => {
          const bytes = Buffer.concat(sizes.map((s, i) => wire(payload(i, s))));
          const slab = new ReceiveSlab(2_000_000);
          const { runs, error } = feed(slab, bytes, reads);
          expect(error).toBeUndefined();
          // checked after everything was read: earlier runs must still hold their frames
          expect(seqsOf(runs)).toEqual(sizes.map((_, i) => i));
          expect(slab.partialBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses bad lengths like FrameDecoder, after handing over the good frames', () => {
    const bad = Buffer.alloc(4);
    bad.writeUInt32LE(5000, 0);
    const slab = new ReceiveSlab(4096);
    const { runs, error } = feed(slab, Buffer.concat([wire(payload(1, 100)), bad, Buffer.alloc(10)]), [1000]);
    expect(seqsOf(runs)).toEqual([1]);
    expect(isVcrError(error, ErrorCode.REQUEST_TOO_LARGE)).toBe(true);
    expect(() => slab.received(0, () => {})).toThrow(expect.objectContaining({ code: ErrorCode.REQUEST_TOO_LARGE }));
    const short = feed(new ReceiveSlab(4096), Buffer.from([3, 0, 0, 0, 1, 2, 3]), [7]);
    expect(isVcrError(short.error, ErrorCode.MALFORMED_MESSAGE)).toBe(true);
  });
});
