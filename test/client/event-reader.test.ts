import { describe, expect, it } from 'vitest';
import { readChannelEvents, readRecording, type ChannelReadApi, type ReadChunkRequest } from '../../src/client/event-reader.js';
import { compareEvents, mergeEvents, type MergeDiscovery } from '../../src/client/merged-event-iterator.js';
import type { ChunkEvent, ReadChunk, RecordedEvent, RecordingDescriptor } from '../../src/client/types.js';
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

/**
 * An archiver in miniature on a virtual clock that only the injected sleep moves: recordings
 * appear at their start time, their events become readable at their UTC, and they stop.
 */
interface SimRecording {
  id: number;
  channel: string;
  start: number;
  stop?: number;
  events: number[];
}

function simArchiver(recordings: SimRecording[], startAt: number) {
  let now = BigInt(startAt);
  const pos = (r: SimRecording, i: number) => i * 64;
  const live = (r: SimRecording) => r.stop === undefined || BigInt(r.stop) > now;
  const visible = (r: SimRecording) => r.events.filter((t) => BigInt(t) <= now);
  const descriptor = (r: SimRecording): RecordingDescriptor => ({
    recordingId: r.id,
    state: live(r) ? 'recording' : 'stopped',
    startPosition: 0,
    stopPosition: visible(r).length * 64,
    startUtcNs: BigInt(r.start),
    stopUtcNs: live(r) ? 0n : BigInt(r.stop!),
    startMonoNs: 0n,
    stopMonoNs: 0n,
    eventCount: visible(r).length,
    segmentLength: 0,
    aliases: [],
    channel: r.channel,
    source: 'test',
  });
  const asked: string[] = [];
  const api: ChannelReadApi = {
    async listRecordings(f) {
      asked.push(`list ${f.channel}`);
      return recordings
        .filter((r) => BigInt(r.start) <= now && r.channel === f.channel && r.id >= (f.fromRecordingId ?? 0))
        .filter((r) => f.toUtcNs === undefined || BigInt(r.start) <= f.toUtcNs)
        .slice(0, f.maxCount ?? Infinity)
        .map(descriptor);
    },
    async findPosition(id, utcNs) {
      const r = recordings.find((x) => x.id === id)!;
      const i = r.events.findIndex((t) => BigInt(t) >= utcNs);
      return i < 0 ? visible(r).length * 64 : pos(r, i);
    },
    async readChunk(q: ReadChunkRequest): Promise<ReadChunk> {
      const r = recordings.find((x) => x.id === q.recordingId)!;
      const seen = visible(r);
      const from = q.position / 64;
      const events = seen.slice(from).filter((t) => q.toUtcNs === undefined || BigInt(t) <= q.toUtcNs);
      const passedTo = events.length < seen.length - from;
      const next = (from + events.length) * 64;
      return {
        recordingId: r.id,
        nextPosition: next,
        nextFragmentOffset: 0,
        endOfRecording: passedTo || (!live(r) && next >= seen.length * 64),
        events: events.map((t, k) => ({ ...ev(next - (events.length - k) * 64, `${r.channel}${t}`, BigInt(t)) })),
      };
    },
    async archiverUtcNs() {
      return now;
    },
  };
  const sleep = async (ms: number) => {
    now += BigInt(ms);
  };
  return { api, sleep, asked, now: () => now };
}

describe('readChannelEvents', () => {
  const recs = (): SimRecording[] => [
    { id: 0, channel: 'b', start: 0, stop: 50, events: [20] },
    { id: 1, channel: 'a', start: 10, stop: 600, events: [100, 300, 500] },
    // starts after the read began (at 200)
    { id: 2, channel: 'b', start: 250, stop: 580, events: [260, 400, 550] },
  ];

  it('with follow, picks up a recording of a requested channel that starts later, merged in time order', async () => {
    const sim = simArchiver(recs(), 200);
    const got = await collect(readChannelEvents(sim.api, { channels: ['a', 'b'], fromUtcNs: 0n, follow: true, pollIntervalMs: 10, discoverIntervalMs: 20 }, sim.sleep));
    expect(got.map((e) => e.payload.toString())).toEqual(['b20', 'a100', 'b260', 'a300', 'b400', 'a500', 'b550']);
    expect(got.map((e) => e.recordingId)).toEqual([0, 1, 2, 1, 2, 1, 2]);
    // ends once nothing is live any more
    expect(sim.now() >= 600n).toBe(true);
  });

  it('with follow and a to, ends once the archiver clock has passed to', async () => {
    const sim = simArchiver(recs(), 200);
    const got = await collect(
      readChannelEvents(sim.api, { channels: ['a', 'b'], fromUtcNs: 0n, toUtcNs: 450n, follow: true, pollIntervalMs: 10, discoverIntervalMs: 20 }, sim.sleep),
    );
    expect(got.map((e) => e.payload.toString())).toEqual(['b20', 'a100', 'b260', 'a300', 'b400']);
  });

  it('without follow, reads what is there now', async () => {
    const sim = simArchiver(recs(), 350);
    const got = await collect(readChannelEvents(sim.api, { channels: ['a', 'b'], fromUtcNs: 0n }, sim.sleep));
    expect(got.map((e) => e.payload.toString())).toEqual(['b20', 'a100', 'b260', 'a300']);
  });

  it('refuses a channel that has no recordings at all with UNKNOWN_CHANNEL', async () => {
    const sim = simArchiver(recs(), 350);
    for (const follow of [false, true]) {
      await expect(collect(readChannelEvents(sim.api, { channels: ['a', 'nosuch'], fromUtcNs: 0n, toUtcNs: 1000n, follow }, sim.sleep))).rejects.toSatisfy(
        (e: unknown) => e instanceof VcrError && e.code === ErrorCode.UNKNOWN_CHANNEL,
      );
    }
    // a known channel with nothing in the interval is simply empty
    expect(await collect(readChannelEvents(sim.api, { channels: ['b'], fromUtcNs: 60n, toUtcNs: 70n }, sim.sleep))).toEqual([]);
  });
});

describe('mergeEvents with inputs that join later', () => {
  it('yields every event once, in order, when inputs are handed over with a moving watermark', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ start: fc.integer({ min: 0, max: 50 }), times: fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 8 }) }), { maxLength: 6 }),
        async (specs) => {
          // input k starts at `start`; its events are at start + times (so none before it starts)
          const streams = specs.map((sp, k) =>
            [...sp.times].sort((a, b) => a - b).map((t, i) => ({ channel: 'c', recordingId: k, position: i, utcNs: BigInt(sp.start + t), monoNs: 0n, payload: Buffer.alloc(0) })),
          );
          const asInput = (k: number): AsyncIterable<RecordedEvent> => ({
            async *[Symbol.asyncIterator]() {
              yield* streams[k]!;
            },
          });
          let clock = -1;
          const handed = new Set<number>();
          const discovery: MergeDiscovery = {
            watermarkUtcNs: () => BigInt(clock),
            isOpen: () => handed.size < specs.length,
            async discover() {
              clock += 7;
              const fresh = specs.map((sp, k) => k).filter((k) => !handed.has(k) && specs[k]!.start <= clock);
              for (const k of fresh) handed.add(k);
              return fresh.map(asInput);
            },
          };
          const merged = await collect(mergeEvents([], discovery));
          expect(merged.length).toBe(streams.reduce((n, x) => n + x.length, 0));
          for (let i = 1; i < merged.length; i++) expect(compareEvents(merged[i - 1]!, merged[i]!)).toBeLessThan(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
