/**
 * Reliable pull read of one recording (PROTOCOL.md "Reliable reads"): asks the archiver for
 * chunks from a position, reassembles events that come in fragments (asking again with the
 * same position and the next fragment offset), and either ends at the end of the recording,
 * the `toUtcNs` limit, the `length` limit or the live end, or (follow) polls the live end
 * until the recording stops. The next chunk is asked for as soon as one arrives, before its
 * events are handed out, so the archiver reads while the consumer works. Lost datagrams are
 * handled below, by the request layer's retries; this layer only sequences the reads.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { mergeEvents } from './merged-event-iterator.js';
import type { ReadChunk, RecordedEvent, RecordingDescriptor } from './types.js';

export interface ReadChunkRequest {
  recordingId: number;
  position: number;
  fragmentOffset: number;
  maxBytes: number;
  toUtcNs?: bigint;
}

export type ReadChunkFn = (req: ReadChunkRequest) => Promise<ReadChunk>;

export interface ReadOptions {
  recordingId: number;
  /** a frame boundary: the recording's start position, or one found by findPosition */
  position: number;
  /** stop before the first event at or beyond position + length */
  length?: number;
  /** stop before the first event later than this */
  toUtcNs?: bigint;
  /** keep reading while the recording grows, until it stops */
  follow?: boolean;
  /** payload bytes to ask for per request (the archiver caps it to one datagram) */
  maxBytes?: number;
  /** how long to wait at the live end before asking again (follow) */
  pollIntervalMs?: number;
  /** the channel name to put on each event */
  channel?: string;
}

export const DEFAULT_READ_MAX_BYTES = 56 * 1024;

interface Partial {
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  payload: Buffer;
  received: number;
}

export async function* readRecording(
  readChunk: ReadChunkFn,
  opts: ReadOptions,
  sleep: (ms: number) => Promise<void>,
): AsyncGenerator<RecordedEvent, void, undefined> {
  const { recordingId } = opts;
  const channel = opts.channel ?? '';
  const endPosition = opts.length !== undefined ? opts.position + opts.length : undefined;
  const maxBytes = opts.maxBytes ?? DEFAULT_READ_MAX_BYTES;
  let position = opts.position;
  let fragmentOffset = 0;
  let partial: Partial | null = null;

  const ask = (p: number, f: number): Promise<ReadChunk> => {
    const pending = readChunk({ recordingId, position: p, fragmentOffset: f, maxBytes, toUtcNs: opts.toUtcNs });
    pending.catch(() => undefined); // a prefetch the consumer never awaits must not be an unhandled rejection
    return pending;
  };
  let next: Promise<ReadChunk> | null = ask(position, fragmentOffset);
  while (next) {
    const chunk: ReadChunk = await next;
    next = null;
    const progressed = chunk.nextPosition !== position || chunk.nextFragmentOffset !== fragmentOffset;
    position = chunk.nextPosition;
    fragmentOffset = chunk.nextFragmentOffset;
    const more = !chunk.endOfRecording && (endPosition === undefined || position < endPosition);
    // ask for the next chunk before handing out this one, so the archiver works while we consume
    if (more && progressed) next = ask(position, fragmentOffset);
    for (const ev of chunk.events) {
      if (endPosition !== undefined && ev.position >= endPosition) return;
      if (ev.fragmentOffset === 0 && ev.payload.length === ev.eventLength) {
        yield { channel, recordingId, position: ev.position, utcNs: ev.utcNs, monoNs: ev.monoNs, payload: ev.payload };
        continue;
      }
      if (!partial || partial.position !== ev.position) {
        if (ev.fragmentOffset !== 0) {
          throw new VcrError(
            ErrorCode.MALFORMED_MESSAGE,
            `recording ${recordingId}: fragment at offset ${ev.fragmentOffset} of event ${ev.position} arrived without its start`,
          );
        }
        partial = { position: ev.position, utcNs: ev.utcNs, monoNs: ev.monoNs, payload: Buffer.allocUnsafe(ev.eventLength), received: 0 };
      }
      if (ev.fragmentOffset + ev.payload.length > partial.payload.length) {
        throw new VcrError(
          ErrorCode.MALFORMED_MESSAGE,
          `recording ${recordingId}: fragment of event ${ev.position} overruns its length ${ev.eventLength}`,
        );
      }
      ev.payload.copy(partial.payload, ev.fragmentOffset);
      partial.received = ev.fragmentOffset + ev.payload.length;
      if (partial.received >= partial.payload.length) {
        const done: Partial = partial;
        partial = null;
        yield { channel, recordingId, position: done.position, utcNs: done.utcNs, monoNs: done.monoNs, payload: done.payload };
      }
    }
    if (!more) return;
    if (!progressed) {
      // live end: nothing new yet
      if (!opts.follow) return;
      await sleep(opts.pollIntervalMs ?? 50);
      next = ask(position, fragmentOffset);
    }
  }
}

/** What reading channels over an interval needs from the client (kept narrow for tests). */
export interface ChannelReadApi {
  listRecordings(filter: { channel: string; fromUtcNs?: bigint; toUtcNs?: bigint }): Promise<RecordingDescriptor[]>;
  findPosition(recordingId: number, utcNs: bigint): Promise<number>;
  readChunk: ReadChunkFn;
}

export interface ChannelEventsOptions {
  /** primary names or aliases */
  channels: string[];
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
  follow?: boolean;
  pollIntervalMs?: number;
}

/**
 * PROTOCOL.md "Reading channels over a UTC interval": list the recordings of the channels that
 * overlap the interval, find the position of `from` in each, read each up to `to`, and merge
 * by (utcNs, recordingId, position). Only recordings still live are followed.
 */
export async function* readChannelEvents(
  api: ChannelReadApi,
  opts: ChannelEventsOptions,
  sleep: (ms: number) => Promise<void>,
): AsyncGenerator<RecordedEvent, void, undefined> {
  const recordings = new Map<number, RecordingDescriptor>();
  for (const channel of opts.channels) {
    for (const d of await api.listRecordings({ channel, fromUtcNs: opts.fromUtcNs, toUtcNs: opts.toUtcNs })) recordings.set(d.recordingId, d);
  }
  const inputs: AsyncIterable<RecordedEvent>[] = [];
  for (const d of [...recordings.values()].sort((a, b) => a.recordingId - b.recordingId)) {
    const position = opts.fromUtcNs !== undefined ? await api.findPosition(d.recordingId, opts.fromUtcNs) : d.startPosition;
    const readOpts: ReadOptions = {
      recordingId: d.recordingId,
      position,
      toUtcNs: opts.toUtcNs,
      follow: (opts.follow ?? false) && d.state === 'recording',
      channel: d.channel,
      pollIntervalMs: opts.pollIntervalMs,
    };
    inputs.push({ [Symbol.asyncIterator]: () => readRecording(api.readChunk, readOpts, sleep) });
  }
  yield* mergeEvents(inputs);
}
