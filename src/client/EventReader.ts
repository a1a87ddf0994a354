/**
 * Reliable pull read of one recording (PROTOCOL.md "Reliable reads"): asks the archiver for
 * chunks from a position, reassembles events that come in fragments (asking again with the
 * same position and the next fragment offset), and either ends at the end of the recording,
 * the `toUtcNs` limit, the `length` limit or the live end, or (follow) polls the live end
 * until the recording stops. Lost datagrams are handled below, by the request layer's
 * retries; this layer only sequences the reads.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ReadChunk, RecordedEvent } from './types.js';

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

  for (;;) {
    const chunk = await readChunk({ recordingId, position, fragmentOffset, maxBytes, toUtcNs: opts.toUtcNs });
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
    const progressed = chunk.nextPosition !== position || chunk.nextFragmentOffset !== fragmentOffset;
    position = chunk.nextPosition;
    fragmentOffset = chunk.nextFragmentOffset;
    if (chunk.endOfRecording) return;
    if (endPosition !== undefined && position >= endPosition) return;
    if (!progressed) {
      // live end: nothing new yet
      if (!opts.follow) return;
      await sleep(opts.pollIntervalMs ?? 50);
    }
  }
}
