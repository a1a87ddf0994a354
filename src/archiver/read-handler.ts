/**
 * Reliable pull reads (ReadRequest -> one ReadChunk + the final response). A read is
 * stateless: it opens a reader at the asked position, takes as many whole events as fit in
 * one datagram, and when the first event alone is too large sends it in fragments that the
 * client re-asks for with fragmentOffset (docs/PROTOCOL.md, Reliable reads). A chunk always says
 * how far the reader got: frames it skipped (deleted, or hidden by a deletion in a cluster) move
 * `nextPosition` on even when no event is in the chunk.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { MAX_MESSAGE } from '../protocol/constants.js';
import { READ_CHUNK_OVERHEAD, READ_EVENT_OVERHEAD, type ChunkEvent } from './control-response-proxy.js';
import type { ArchiveStore } from './ports.js';

export interface ReadResult {
  events: ChunkEvent[];
  nextPosition: number;
  nextFragmentOffset: number;
  endOfRecording: boolean;
  payloadBytes: number;
}

/** Payload bytes one ReadChunk can carry at most (with one event's overhead). */
export const MAX_CHUNK_PAYLOAD = MAX_MESSAGE - READ_CHUNK_OVERHEAD - READ_EVENT_OVERHEAD;

export class ReadHandler {
  constructor(private readonly store: ArchiveStore) {}

  read(recordingId: number, position: number, fragmentOffset: number, maxBytes: number, toUtcNs: bigint | null): ReadResult {
    const info = this.store.describe(recordingId);
    if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${recordingId}`);
    if (position < info.startPosition || position > info.stopPosition) {
      throw new VcrError(
        ErrorCode.INVALID_POSITION,
        `position ${position} is outside recording ${recordingId} [${info.startPosition}, ${info.stopPosition}]`,
      );
    }
    const stoppedAtDescribe = info.state !== 'recording';
    const budget = Math.min(maxBytes > 0 ? maxBytes : MAX_CHUNK_PAYLOAD, MAX_CHUNK_PAYLOAD);
    const result: ReadResult = { events: [], nextPosition: position, nextFragmentOffset: 0, endOfRecording: false, payloadBytes: 0 };
    let space = MAX_MESSAGE - READ_CHUNK_OVERHEAD;
    let payloadLeft = budget;
    let stop = false;
    let badFragment = false;
    const reader = this.store.openReader(recordingId, position, false);
    try {
      while (!stop) {
        const n = reader.poll((buf, off, len, pos, utcNs, monoNs, flags) => {
          if (toUtcNs !== null && utcNs > toUtcNs) {
            result.endOfRecording = true;
            result.nextPosition = pos;
            stop = true;
            return;
          }
          const first = result.events.length === 0;
          const from = first ? fragmentOffset : 0;
          if (first && from > 0 && from >= len) {
            badFragment = true;
            stop = true;
            return;
          }
          const remaining = len - from;
          const room = Math.min(space - READ_EVENT_OVERHEAD, payloadLeft);
          if (remaining <= room) {
            result.events.push({ position: pos, utcNs, monoNs, eventLength: len, fragmentOffset: from, flags: flags ?? 0, payload: copy(buf, off + from, remaining) });
            space -= READ_EVENT_OVERHEAD + remaining;
            payloadLeft -= remaining;
            result.payloadBytes += remaining;
            result.nextPosition = -1; // filled from the reader below
            result.nextFragmentOffset = 0;
            return;
          }
          if (first && room > 0) {
            result.events.push({ position: pos, utcNs, monoNs, eventLength: len, fragmentOffset: from, flags: flags ?? 0, payload: copy(buf, off + from, room) });
            result.payloadBytes += room;
            result.nextPosition = pos;
            result.nextFragmentOffset = from + room;
          } else {
            result.nextPosition = pos;
          }
          stop = true;
        }, 1);
        if (n === 0) {
          // frames skipped (deleted, or hidden by a deletion) move the reader on: say so, or a
          // chunk of nothing but hidden events would look like one that made no progress
          if (!stop && reader.position > result.nextPosition && result.nextFragmentOffset === 0) {
            // a skipped tombstone ends at its segment's end, which may lie past the recording's end
            result.nextPosition = Math.min(reader.position, info.stopPosition);
          }
          break;
        }
        if (result.nextPosition === -1) result.nextPosition = reader.position;
      }
    } finally {
      reader.close();
    }
    if (badFragment) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `fragmentOffset ${fragmentOffset} is beyond the event at position ${position}`);
    }
    if (stoppedAtDescribe && result.nextFragmentOffset === 0 && result.nextPosition >= info.stopPosition) {
      result.endOfRecording = true;
    }
    return result;
  }
}

function copy(buf: Buffer, from: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  buf.copy(out, 0, from, from + length);
  return out;
}
