import { describe, expect, it } from 'vitest';
import { readRecording, type ReadChunkRequest } from '../../src/client/event-reader.js';
import { compareEvents, mergeEvents } from '../../src/client/merged-event-iterator.js';
import type { ChunkEvent, ReadChunk, RecordedEvent } from '../../src/client/types.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import fc from 'fast-check';

const noSleep = () => Promise.resolve();

async function collect(it: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function ev(position: number, payload: string, utcNs = BigInt(position)): ChunkEvent {
  const b = Buffer.from(payload);
  return { position, utcNs, monoNs: utcNs, eventLength: b.length, fragmentOffset: 0, payload: b };
}

describe('readRecording', () => {
  it('reassembles fragments by asking again at the same position with the next fragment offset', async () => {
    const asked: ReadChunkRequest[] = [];
    const chunks: ReadChunk[] = [
      { recordingId: 1, nextPosition: 0, nextFragmentOffset: 4, endOfRecording: false, events: [{ ...ev(0, 'abcd'), eventLength: 10 }] },
      { recordingId: 1, nextPosition: 0, nextFragmentOffset: 8, endOfRecording: false, events: [{ ...ev(0, 'efgh'), eventLength: 10, fragmentOffset: 4 }] },
      { recordingId: 1, nextPosition: 64, nextFragmentOffset: 0, endOfRecording: false, events: [{ ...ev(0, 'ij'), eventLength: 10, fragmentOffset: 8 }, ev(48, 'next')] },
      { recordingId: 1, nextPosition: 96, nextFragmentOffset: 0, endOfRecording: true, events: [] },
    ];
    const got = await collect(
      readRecording(async (q) => (asked.push(q), chunks.shift()!), { recordingId: 1, position: 0, channel: 'c' }, noSleep),
    );
    expect(got.map((e) => e.payload.toString())).toEqual(['abcdefghij', 'next']);
    expect(asked.map((q) => [q.position, q.fragmentOffset])).toEqual([[0, 0], [0, 4], [0, 8], [64, 0]]);
  });

  it('ends at the live end without follow, and polls there with follow', async () => {
    let calls = 0;
    const source = async (): Promise<ReadChunk> => {
      calls++;
      if (calls === 1) return { recordingId: 1, nextPosition: 40, nextFragmentOffset: 0, endOfRecording: false, events: [ev(0, 'a')] };
      if (calls < 4) return { recordingId: 1, nextPosition: 40, nextFragmentOffset: 0, endOfRecording: false, events: [] };
      return { recordingId: 1, nextPosition: 80, nextFragmentOffset: 0, endOfRecording: true, events: [ev(40, 'b')] };
    };
    expect((await collect(readRecording(source, { recordingId: 1, position: 0 }, noSleep))).length).toBe(1);
    calls = 0;
    let sleeps = 0;
    const got = await collect(readRecording(source, { recordingId: 1, position: 0, follow: true }, async () => void sleeps++));
    expect(got.map((e) => e.payload.toString())).toEqual(['a', 'b']);
    expect(sleeps).toBe(2);
  });

  it('stops before position + length', async () => {
    const source = async (): Promise<ReadChunk> => ({
      recordingId: 1, nextPosition: 120, nextFragmentOffset: 0, endOfRecording: true, events: [ev(0, 'a'), ev(40, 'b'), ev(80, 'c')],
    });
    const got = await collect(readRecording(source, { recordingId: 1, position: 0, length: 80 }, noSleep));
    expect(got.map((e) => e.payload.toString())).toEqual(['a', 'b']);
  });

  it('rejects a fragment that arrives without its start', async () => {
    const source = async (): Promise<ReadChunk> => ({
      recordingId: 1, nextPosition: 0, nextFragmentOffset: 8, endOfRecording: false, events: [{ ...ev(0, 'zz'), eventLength: 10, fragmentOffset: 6 }],
    });
    await expect(collect(readRecording(source, { recordingId: 1, position: 0 }, noSleep))).rejects.toSatisfy(
      (e: unknown) => e instanceof VcrError && e.code === ErrorCode.MALFORMED_MESSAGE,
    );
  });
});

describe('mergeEvents', () => {
  it('yields every input event exactly once, in (utcNs, recordingId, position) order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 15 }), { maxLength: 5 }), async (streams) => {
        const inputs = streams.map((times, rid) => {
          const events = [...times].sort((a, b) => a - b).map((t, i) => ({
            channel: `c${rid}`, recordingId: rid, position: i * 32, utcNs: BigInt(t), monoNs: 0n, payload: Buffer.alloc(0),
          }));
          return (async function* () {
            yield* events;
          })();
        });
        const merged = await collect(mergeEvents(inputs));
        expect(merged.length).toBe(streams.reduce((n, s) => n + s.length, 0));
        for (let i = 1; i < merged.length; i++) expect(compareEvents(merged[i - 1]!, merged[i]!)).toBeLessThan(0);
      }),
      { numRuns: 100 },
    );
  });

  it('lets every input go when the consumer stops early', async () => {
    let closed = 0;
    const input = () =>
      (async function* () {
        try {
          for (let i = 0; ; i++) yield { channel: 'c', recordingId: 0, position: i, utcNs: BigInt(i), monoNs: 0n, payload: Buffer.alloc(0) };
        } finally {
          closed++;
        }
      })();
    for await (const e of mergeEvents([input(), input()])) if (e.position >= 3) break;
    expect(closed).toBe(2);
  });
});
