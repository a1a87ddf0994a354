/**
 * Inbound decoding of a streamed replay (codecs/stream.xml): StreamRecording messages name the
 * channel of each recording, EventBatch messages become RecordedEvents, StreamEnd says why the
 * stream ended. EventBatch is read by hand at the layout of src/protocol/stream-layout.ts (the
 * hot path: no flyweight per event), the rare messages through the generated decoders.
 *
 * Payloads are views into the transport's receive memory, not copies: the transport never
 * writes those bytes again (src/transport/inbound-queue.ts), so an event stays valid for as
 * long as it is kept; it keeps its receive slab (up to 1 MiB) alive, though, so a caller that
 * keeps a few small payloads for long should copy them (Buffer.from).
 */
import { StopReason, StreamEndDecoder, StreamRecordingDecoder } from '../../codecs/generated/stream/index.js';
import { EventBatchDecoder } from '../../codecs/generated/stream/EventBatchDecoder.js';
import { EVENT_BLOCK, EVENT_BLOCK_V1, EventField, STREAM_HEADER_LENGTH } from '../protocol/stream-layout.js';
import { SOURCE_FLAGS, SOURCE_IPV4_LENGTH, decodeAddress, sourceLength, type EventSource } from '../util/source-address.js';
import { bufferView } from '../transport/buffer-view.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { RecordedEvent } from './types.js';

const TWO_32 = 4294967296;

export type StreamEndReason = 'REQUESTED' | 'SOURCE_ENDED' | 'ERROR' | 'SHUTDOWN' | 'CLIENT_GONE';

export interface StreamEndInfo {
  reason: StreamEndReason;
  errorCode: number;
  eventsSent: number;
  bytesSent: number;
  message: string;
}

const REASONS: Record<number, StreamEndReason> = {
  [StopReason.REQUESTED]: 'REQUESTED',
  [StopReason.SOURCE_ENDED]: 'SOURCE_ENDED',
  [StopReason.ERROR]: 'ERROR',
  [StopReason.SHUTDOWN]: 'SHUTDOWN',
  [StopReason.CLIENT_GONE]: 'CLIENT_GONE',
};

export class StreamAdapter {
  /** The channel of each recording, from StreamRecording messages. */
  private readonly channels = new Map<number, string>();
  private readonly recordingDecoder = new StreamRecordingDecoder();
  private readonly endDecoder = new StreamEndDecoder();
  private lastRecordingId = -1;
  private lastChannel = '';
  /** A DataView over the whole ArrayBuffer of the last batch (receive slabs change rarely). */
  private view: DataView = new DataView(new ArrayBuffer(0));
  private viewOf: ArrayBufferLike | undefined;
  /** Set once a StreamEnd arrived. */
  ended: StreamEndInfo | undefined;

  /**
   * Decodes one message (a frame's payload); events go to `out`. Throws MALFORMED_MESSAGE for
   * bytes that do not hold what their header says.
   */
  onMessage(buf: Buffer, offset: number, length: number, out: RecordedEvent[]): void {
    if (length < STREAM_HEADER_LENGTH) throw malformed(`message of ${length} bytes`);
    const blockLength = buf.readUInt16LE(offset);
    const templateId = buf.readUInt16LE(offset + 2);
    const schemaId = buf.readUInt16LE(offset + 4);
    const version = buf.readUInt16LE(offset + 6);
    if (schemaId !== EventBatchDecoder.SCHEMA_ID) throw malformed(`schema id ${schemaId} is not ${EventBatchDecoder.SCHEMA_ID}`);
    switch (templateId) {
      case EventBatchDecoder.TEMPLATE_ID:
        this.batch(buf, offset, length, blockLength, out);
        return;
      case StreamRecordingDecoder.TEMPLATE_ID: {
        const d = this.recordingDecoder.wrap(buf.subarray(offset, offset + length), STREAM_HEADER_LENGTH, blockLength, version);
        const id = d.recordingId();
        this.channels.set(id, d.channel());
        this.lastRecordingId = -1;
        return;
      }
      case StreamEndDecoder.TEMPLATE_ID: {
        const d = this.endDecoder.wrap(buf.subarray(offset, offset + length), STREAM_HEADER_LENGTH, blockLength, version);
        this.ended = {
          reason: REASONS[d.reason()] ?? 'ERROR',
          errorCode: d.errorCode(),
          eventsSent: d.eventsSent(),
          bytesSent: d.bytesSent(),
          message: d.message(),
        };
        return;
      }
      default:
        // a message a newer archiver added: skipped
        return;
    }
  }

  private batch(buf: Buffer, offset: number, length: number, blockLength: number, out: RecordedEvent[]): void {
    const end = offset + length;
    const groupAt = offset + STREAM_HEADER_LENGTH + blockLength;
    if (groupAt + 4 > end) throw malformed('EventBatch shorter than its group header');
    if (buf.buffer !== this.viewOf) {
      this.viewOf = buf.buffer;
      this.view = new DataView(buf.buffer, 0, buf.buffer.byteLength);
    }
    const v = this.view;
    const base = buf.byteOffset;
    const entryBlock = v.getUint16(base + groupAt, true);
    const count = v.getUint16(base + groupAt + 2, true);
    if (entryBlock < EVENT_BLOCK_V1) throw malformed(`EventBatch entry block of ${entryBlock} bytes`);
    let p = groupAt + 4;
    for (let i = 0; i < count; i++) {
      if (p + entryBlock + 4 > end) throw malformed('EventBatch entry beyond its message');
      const q = base + p;
      const recordingId = v.getUint32(q + EventField.RECORDING_ID, true) + v.getUint32(q + EventField.RECORDING_ID + 4, true) * TWO_32;
      const position = v.getUint32(q + EventField.POSITION, true) + v.getUint32(q + EventField.POSITION + 4, true) * TWO_32;
      const utcNs = v.getBigInt64(q + EventField.UTC_NS, true);
      const monoNs = v.getBigInt64(q + EventField.MONO_NS, true);
      const flags = v.getUint16(q + EventField.FLAGS, true);
      // version-2 blocks carry the source address (a version-1 block ends before it)
      const source = (flags & SOURCE_FLAGS) !== 0 && entryBlock >= EVENT_BLOCK ? streamSource(buf, p, flags) : undefined;
      const payloadLength = v.getUint32(q + entryBlock, true);
      const at = p + entryBlock + 4;
      if (at + payloadLength > end) throw malformed('EventBatch payload beyond its message');
      const channel = recordingId === this.lastRecordingId ? this.lastChannel : this.channelOf(recordingId);
      const payload = bufferView(buf, at, payloadLength);
      const event: RecordedEvent = flags === 0 ? { channel, recordingId, position, utcNs, monoNs, payload } : { channel, recordingId, position, utcNs, monoNs, payload, flags };
      if (source !== undefined) event.source = source;
      out.push(event);
      p = at + payloadLength;
    }
  }

  private channelOf(recordingId: number): string {
    const channel = this.channels.get(recordingId) ?? '';
    this.lastRecordingId = recordingId;
    this.lastChannel = channel;
    return channel;
  }
}

/** The source address fields of the event entry at buf[p..] as address text and port. */
function streamSource(buf: Buffer, p: number, flags: number): EventSource | undefined {
  const n = sourceLength(flags);
  if (n <= 0) return undefined;
  return { address: decodeAddress(buf, p + EventField.SOURCE_ADDRESS, n === SOURCE_IPV4_LENGTH ? 4 : 16), port: buf.readUInt16LE(p + EventField.SOURCE_PORT) };
}

function malformed(what: string): VcrError {
  return new VcrError(ErrorCode.MALFORMED_MESSAGE, `stream: ${what}`);
}
