/**
 * A record that ends its input without a separator is flagged UNTERMINATED, so the events of a
 * file or stream, each written back with the separator unless it is flagged, give the input
 * byte for byte: multi-byte separators, binary payloads, empty records, inputs ending with and
 * without a separator, and a followed file whose recording stops on an unfinished record.
 */
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource, parseSourceUri, SourceEventFlags, StdinSource, type FileSourceSpec, type StdinSourceSpec } from '../../src/sources/index.js';
import { FrameFlags } from '../../src/storage/layout.js';
import { EventFlags } from '../../src/client/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { collector, pollUntil, type Collected } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vcr-unterminated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (): string => join(dir, `f${n++}.bin`);
const U = SourceEventFlags.UNTERMINATED;

/** What a replay to a file writes: each payload, then the separator unless it is flagged. */
function rebuild(c: Collected, sep: Buffer): Buffer {
  return Buffer.concat(c.payloads.flatMap((p, i) => (c.flags[i]! & U ? [p] : [p, sep])));
}

describe('UNTERMINATED', () => {
  it('is one bit, the same in sources, storage frames and client events', () => {
    expect(U).toBe(1);
    expect(FrameFlags.UNTERMINATED).toBe(U);
    expect(EventFlags.UNTERMINATED).toBe(U);
  });

  it('a file source gives back its file byte for byte (binary, empty records, multi-byte separators, with and without a last separator)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('%0A', '%0D%0A', '%00%FF%00', '%1E'),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }),
        fc.boolean(),
        fc.integer({ min: 64, max: 300 }),
        async (sepSpec, records, trailing, chunkSize) => {
          const spec = parseSourceUri(`file://${tmp()}?separator=${sepSpec}`) as FileSourceSpec;
          const sep = spec.separator;
          // records must not contain the separator (else they are not the records written)
          const clean = records.map((r) => Buffer.from(r.map((b) => (sep.includes(b) ? 0x41 : b))));
          const content = Buffer.concat([...clean.flatMap((r, i) => (i < clean.length - 1 || trailing ? [r, sep] : [r]))]);
          writeFileSync(spec.path, content);
          const src = new FileSource(spec, { chunkSize, maxQueuedChunks: 2 });
          await src.open();
          const c = collector();
          await pollUntil(src, c.handler, () => src.isEnded(), { limit: 3 });
          src.close();
          expect(rebuild(c, sep).equals(content)).toBe(true);
          // only a last record can be unterminated, and only when the file does not end with the separator
          const last = c.flags.length - 1;
          c.flags.forEach((f, i) => expect(f, `event ${i}`).toBe(i === last && !content.subarray(content.length - sep.length).equals(sep) ? U : 0));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a followed file: flush() delivers the unfinished last record, flagged, when the recording stops', async () => {
    const path = tmp();
    writeFileSync(path, 'a1\na2\npart');
    const clock = new ManualClock();
    const src = new FileSource(parseSourceUri(`file://${path}?follow=true`) as FileSourceSpec, { nanoClock: clock, utcClock: clock, followIntervalNs: 50_000_000n });
    await src.open();
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 2 && src.readPosition === 10, { clock, stepNs: 10_000_000n });
    expect(src.flush(c.handler)).toBe(1);
    expect(c.payloads.map(String)).toEqual(['a1', 'a2', 'part']);
    expect(c.flags).toEqual([0, 0, U]);
    expect(src.counters.events).toBe(3);
    src.close();
    expect(rebuild(c, Buffer.from('\n')).toString()).toBe('a1\na2\npart');
  });

  it('a followed file: a record cut off by rotation is flagged, the rest are not', async () => {
    const path = tmp();
    writeFileSync(path, 'x1\n');
    const clock = new ManualClock();
    const src = new FileSource(parseSourceUri(`file://${path}?follow=true`) as FileSourceSpec, { nanoClock: clock, utcClock: clock, followIntervalNs: 50_000_000n });
    await src.open();
    const c = collector();
    const opts = { clock, stepNs: 10_000_000n };
    await pollUntil(src, c.handler, () => c.payloads.length === 1, opts);
    appendFileSync(path, 'old-tail');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'y1\n');
    await pollUntil(src, c.handler, () => c.payloads.length === 3, opts);
    expect(c.payloads.map(String)).toEqual(['x1', 'old-tail', 'y1']);
    expect(c.flags).toEqual([0, U, 0]);
    src.close();
  });

  it('stdin: the record the stream ends with is flagged; a stream ending with the separator has none', async () => {
    for (const [input, flags] of [
      ['p;q;;r', [0, 0, 0, U]],
      ['p;q;', [0, 0]],
    ] as const) {
      const stream = new PassThrough();
      const src = new StdinSource(parseSourceUri('stdin:?separator=%3B') as StdinSourceSpec, { stream });
      await src.open();
      stream.end(input);
      const c = collector();
      await pollUntil(src, c.handler, () => src.isEnded());
      expect(c.flags).toEqual(flags);
      expect(rebuild(c, Buffer.from(';')).toString()).toBe(input);
      src.close();
    }
  });
});
