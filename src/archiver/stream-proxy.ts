/**
 * Outbound encoding of a streamed replay (codecs/stream.xml) straight into a Connection's send
 * slab: no message is built elsewhere and copied. EventBatch is the hot path (one event costs
 * one payload copy and a handful of stores), so it is written by hand at the offsets of the
 * generated codec (test/archiver/stream-proxy.test.ts decodes it with the generated decoder);
 * the group count is only known when the batch ends, so it is patched in at commit. The rare
 * messages (StreamRecording, StreamEnd) go through the generated encoders.
 *
 * A batch is claimed (room reserved in the slab) when it begins and committed when it is full
 * or the producer has nothing more now: a batch is at most `batchBytes`, or one event larger
 * than that with its overheads.
 */
import {
  EventBatchEncoder,
  MessageHeaderEncoder,
  StopReason,
  StreamEndEncoder,
  StreamRecordingEncoder,
} from '../../codecs/generated/stream/index.js';
import type { Connection } from '../transport/connection.js';
import { SOURCE_FLAGS, sourceLength } from '../util/source-address.js';
import type { StopReasonName } from './notification-proxy.js';
import {
  BATCH_GROUP_HEADER_OFFSET,
  BATCH_OVERHEAD,
  EVENT_BLOCK,
  EVENT_OVERHEAD,
  EventField,
  MAX_BATCH_EVENTS,
  STREAM_HEADER_LENGTH as HEADER_LENGTH,
} from '../protocol/stream-layout.js';

/** Default batch size: one 64 KiB socket write. */
export const DEFAULT_STREAM_BATCH_BYTES = 64 * 1024;
const MAX_TEXT = 1000;
const TWO_32 = 4294967296;

const STOP_REASONS: Record<StopReasonName, StopReason> = {
  REQUESTED: StopReason.REQUESTED,
  SOURCE_ENDED: StopReason.SOURCE_ENDED,
  ERROR: StopReason.ERROR,
  SHUTDOWN: StopReason.SHUTDOWN,
  CLIENT_GONE: StopReason.CLIENT_GONE,
};

export class StreamProxy {
  private readonly header = new MessageHeaderEncoder();
  private readonly recordingEncoder = new StreamRecordingEncoder();
  private readonly endEncoder = new StreamEndEncoder();
  private readonly scratch = Buffer.alloc(MAX_TEXT * 4 + 256);
  /** The claim buffer and a DataView of it (remade when the connection moves to a new slab). */
  private buf: Buffer = Buffer.alloc(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** Offset of the open batch's message header, -1 when no batch is open. */
  private start = -1;
  private limit = 0;
  private end = 0;
  private count = 0;
  private batchPayload = 0;

  constructor(
    private readonly connection: Connection,
    readonly batchBytes = DEFAULT_STREAM_BATCH_BYTES,
  ) {}

  get inBatch(): boolean {
    return this.start >= 0;
  }

  /** Events in the open batch. */
  get batchEvents(): number {
    return this.count;
  }

  /**
   * Opens a batch with room for at least one event of `payloadLength` bytes; false (nothing
   * claimed) while the connection is not writable. `force` claims regardless of back-pressure.
   */
  begin(payloadLength: number, force = false): boolean {
    const size = Math.max(this.batchBytes, BATCH_OVERHEAD + EVENT_OVERHEAD + payloadLength);
    const at = force ? this.connection.claim(size) : this.connection.tryClaim(size);
    if (at < 0) return false;
    const buf = this.connection.claimBuffer;
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    const v = this.view;
    v.setUint16(at, EventBatchEncoder.BLOCK_LENGTH, true);
    v.setUint16(at + 2, EventBatchEncoder.TEMPLATE_ID, true);
    v.setUint16(at + 4, EventBatchEncoder.SCHEMA_ID, true);
    v.setUint16(at + 6, EventBatchEncoder.SCHEMA_VERSION, true);
    v.setUint16(at + BATCH_GROUP_HEADER_OFFSET, EVENT_BLOCK, true);
    this.start = at;
    this.limit = at + BATCH_OVERHEAD;
    this.end = at + size;
    this.count = 0;
    this.batchPayload = 0;
    return true;
  }

  /** Whether an event of `payloadLength` bytes fits in the open batch. */
  fits(payloadLength: number): boolean {
    return this.limit + EVENT_OVERHEAD + payloadLength <= this.end && this.count < MAX_BATCH_EVENTS;
  }

  /** Appends one event to the open batch; the caller checked `fits`. */
  append(
    recordingId: number,
    buffer: Buffer,
    payloadOffset: number,
    payloadLength: number,
    position: number,
    utcNs: bigint,
    monoNs: bigint,
    flags: number,
  ): void {
    const v = this.view;
    const p = this.limit;
    // ids and positions are below 2^53: two 32-bit halves, no BigInt
    v.setUint32(p + EventField.RECORDING_ID, recordingId % TWO_32, true);
    v.setUint32(p + EventField.RECORDING_ID + 4, Math.floor(recordingId / TWO_32), true);
    v.setUint32(p + EventField.POSITION, position % TWO_32, true);
    v.setUint32(p + EventField.POSITION + 4, Math.floor(position / TWO_32), true);
    v.setBigInt64(p + EventField.UTC_NS, utcNs, true);
    v.setBigInt64(p + EventField.MONO_NS, monoNs, true);
    v.setUint16(p + EventField.FLAGS, flags, true);
    // the source address trailer that follows the payload in the frame (flags say which), if any
    const sl = (flags & SOURCE_FLAGS) === 0 ? 0 : sourceLength(flags);
    if (sl > 0) {
      const at = payloadOffset + payloadLength;
      const addr = sl - 2;
      buffer.copy(this.buf, p + EventField.SOURCE_ADDRESS, at, at + addr);
      if (addr < 16) this.buf.fill(0, p + EventField.SOURCE_ADDRESS + addr, p + EventField.SOURCE_PORT);
      v.setUint16(p + EventField.SOURCE_PORT, buffer[at + addr]! | (buffer[at + addr + 1]! << 8), true);
    } else {
      this.buf.fill(0, p + EventField.SOURCE_ADDRESS, p + EventField.SOURCE_PORT + 2);
    }
    v.setUint32(p + EventField.PAYLOAD_LENGTH, payloadLength, true);
    buffer.copy(this.buf, p + EVENT_OVERHEAD, payloadOffset, payloadOffset + payloadLength);
    this.limit = p + EVENT_OVERHEAD + payloadLength;
    this.count++;
    this.batchPayload += payloadLength;
  }

  /** Commits the open batch (an empty one is dropped); returns its payload bytes. */
  commit(): number {
    if (this.start < 0) return 0;
    const start = this.start;
    this.start = -1;
    if (this.count === 0) {
      this.connection.abortClaim();
      return 0;
    }
    this.view.setUint16(start + BATCH_GROUP_HEADER_OFFSET + 2, this.count, true);
    this.connection.commit(this.limit - start);
    return this.batchPayload;
  }

  /** Drops the open batch, if any. */
  abort(): void {
    if (this.start < 0) return;
    this.start = -1;
    this.connection.abortClaim();
  }

  /** Names a recording's channel (sent before the recording's first event); false when not open. */
  recording(recordingId: number, channel: string): boolean {
    this.commit();
    const e = this.recordingEncoder.wrapAndApplyHeader(this.scratch, 0, this.header);
    e.recordingId(recordingId);
    e.channel(clip(channel));
    return this.connection.send(this.scratch, 0, HEADER_LENGTH + e.encodedLength());
  }

  /** The last message of the stream, sent whatever the back-pressure; false when not open. */
  streamEnd(reason: StopReasonName, errorCode: number, eventsSent: number, bytesSent: number, message: string): boolean {
    this.commit();
    const e = this.endEncoder.wrapAndApplyHeader(this.scratch, 0, this.header);
    e.reason(STOP_REASONS[reason]);
    e.errorCode(errorCode);
    e.eventsSent(eventsSent);
    e.bytesSent(bytesSent);
    e.message(clip(message));
    return this.connection.send(this.scratch, 0, HEADER_LENGTH + e.encodedLength());
  }
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text;
}
