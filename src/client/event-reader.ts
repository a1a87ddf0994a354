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
import { mergeEvents, type MergeDiscovery } from './merged-event-iterator.js';
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
  flags: number;
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
        const whole: RecordedEvent = { channel, recordingId, position: ev.position, utcNs: ev.utcNs, monoNs: ev.monoNs, payload: ev.payload };
        if (ev.flags) whole.flags = ev.flags;
        yield whole;
        continue;
      }
      if (!partial || partial.position !== ev.position) {
        if (ev.fragmentOffset !== 0) {
          throw new VcrError(
            ErrorCode.MALFORMED_MESSAGE,
            `recording ${recordingId}: fragment at offset ${ev.fragmentOffset} of event ${ev.position} arrived without its start`,
          );
        }
        partial = { position: ev.position, utcNs: ev.utcNs, monoNs: ev.monoNs, flags: ev.flags ?? 0, payload: Buffer.allocUnsafe(ev.eventLength), received: 0 };
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
        const whole: RecordedEvent = { channel, recordingId, position: done.position, utcNs: done.utcNs, monoNs: done.monoNs, payload: done.payload };
        if (done.flags) whole.flags = done.flags;
        yield whole;
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
  listRecordings(filter: { channel: string; fromUtcNs?: bigint; toUtcNs?: bigint; fromRecordingId?: number; maxCount?: number }): Promise<RecordingDescriptor[]>;
  findPosition(recordingId: number, utcNs: bigint): Promise<number>;
  readChunk: ReadChunkFn;
  /** The archiver's UTC clock now (follow reads use it as the merge watermark). */
  archiverUtcNs(): Promise<bigint>;
}

export interface ChannelEventsOptions {
  /** primary names or aliases */
  channels: string[];
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
  follow?: boolean;
  pollIntervalMs?: number;
  /** follow: how often to look for recordings of the channels that started since (default 250 ms) */
  discoverIntervalMs?: number;
}

export const DEFAULT_DISCOVER_INTERVAL_MS = 250;

/**
 * PROTOCOL.md "Reading channels over a UTC interval": list the recordings of the channels that
 * overlap the interval, find the position of `from` in each, read each up to `to`, and merge
 * in the order of src/util/merge-order.ts, (utcNs, recordingId, position). A channel that has
 * no recording at all is UNKNOWN_CHANNEL. With follow, live recordings are followed, and
 * recordings of the channels that start later are picked up (RecordingDiscovery) and merged
 * in; the read ends when `to` has passed on the archiver's clock, or, without `to`, when no
 * recording of the channels is live any more.
 */
export async function* readChannelEvents(
  api: ChannelReadApi,
  opts: ChannelEventsOptions,
  sleep: (ms: number) => Promise<void>,
): AsyncGenerator<RecordedEvent, void, undefined> {
  const follow = opts.follow ?? false;
  // taken before listing: a recording the list does not show starts after this time
  const watermark = follow ? await api.archiverUtcNs() : 0n;
  const recordings = new Map<number, RecordingDescriptor>();
  for (const channel of opts.channels) {
    const found = await api.listRecordings({ channel, fromUtcNs: opts.fromUtcNs, toUtcNs: opts.toUtcNs });
    if (found.length === 0 && (await api.listRecordings({ channel, maxCount: 1 })).length === 0) {
      throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `channel ${JSON.stringify(channel.slice(0, 200))} has no recordings`);
    }
    for (const d of found) recordings.set(d.recordingId, d);
  }
  const reader = (d: RecordingDescriptor) => recordingInput(api, opts, d, sleep);
  const inputs = [...recordings.values()].sort((a, b) => a.recordingId - b.recordingId).map(reader);
  const discovery = follow ? new RecordingDiscovery(api, opts, sleep, new Set(recordings.keys()), watermark, reader) : undefined;
  yield* mergeEvents(inputs, discovery);
}

/** One recording's events from the interval's start (found lazily, when the merge first asks). */
function recordingInput(
  api: ChannelReadApi,
  opts: ChannelEventsOptions,
  d: RecordingDescriptor,
  sleep: (ms: number) => Promise<void>,
): AsyncIterable<RecordedEvent> {
  return {
    async *[Symbol.asyncIterator]() {
      const position = opts.fromUtcNs !== undefined ? await api.findPosition(d.recordingId, opts.fromUtcNs) : d.startPosition;
      yield* readRecording(
        api.readChunk,
        {
          recordingId: d.recordingId,
          position,
          toUtcNs: opts.toUtcNs,
          follow: (opts.follow ?? false) && d.state === 'recording',
          channel: d.channel,
          pollIntervalMs: opts.pollIntervalMs,
        },
        sleep,
      );
    },
  };
}

/**
 * Follow reads: looks, every discoverIntervalMs while the merge asks, for recordings of the
 * channels that were not listed before. The archiver's clock is read before each look, so a
 * recording the look misses starts after that time, and so do all its events (the archiver
 * dates no event of a recording before the recording's start): that time is the watermark.
 * Closes when the archiver's clock passes `to` (nothing new can fall in the interval), or,
 * without `to`, when a look with no input open finds nothing new (no recording is live).
 */
class RecordingDiscovery implements MergeDiscovery {
  private open = true;
  private nextRecordingId: number;

  constructor(
    private readonly api: ChannelReadApi,
    private readonly opts: ChannelEventsOptions,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly known: Set<number>,
    private watermark: bigint,
    private readonly reader: (d: RecordingDescriptor) => AsyncIterable<RecordedEvent>,
  ) {
    this.nextRecordingId = known.size > 0 ? Math.max(...known) + 1 : 0;
    this.closeIfPastTo();
  }

  watermarkUtcNs(): bigint {
    return this.watermark;
  }

  isOpen(): boolean {
    return this.open;
  }

  async discover(idle: boolean): Promise<AsyncIterable<RecordedEvent>[]> {
    await this.sleep(this.opts.discoverIntervalMs ?? DEFAULT_DISCOVER_INTERVAL_MS);
    const now = await this.api.archiverUtcNs();
    const found: RecordingDescriptor[] = [];
    for (const channel of this.opts.channels) {
      const list = await this.api.listRecordings({
        channel,
        fromUtcNs: this.opts.fromUtcNs,
        toUtcNs: this.opts.toUtcNs,
        fromRecordingId: this.nextRecordingId,
      });
      for (const d of list) {
        if (this.known.has(d.recordingId)) continue;
        this.known.add(d.recordingId);
        found.push(d);
      }
    }
    if (now > this.watermark) this.watermark = now;
    for (const d of found) this.nextRecordingId = Math.max(this.nextRecordingId, d.recordingId + 1);
    this.closeIfPastTo();
    if (this.opts.toUtcNs === undefined && idle && found.length === 0) this.open = false;
    return found.sort((a, b) => a.recordingId - b.recordingId).map(this.reader);
  }

  private closeIfPastTo(): void {
    if (this.opts.toUtcNs !== undefined && this.watermark > this.opts.toUtcNs) this.open = false;
  }
}
