/**
 * The byte layout of an EventBatch (codecs/stream.xml), which both ends of a streamed replay
 * read and write by hand because it is the hot path: the archiver's StreamProxy writes events
 * straight into its send slab, the client's StreamAdapter reads them straight out of its
 * receive slab. The layout is the generated codec's (an empty root block, then the events
 * group); test/archiver/stream-proxy.test.ts encodes with one and decodes with the other.
 *
 * Imports only codecs/generated: the client library and the archiver both use it.
 */
import { EventBatchEncoder, EventBatchEventsEncoder } from '../../codecs/generated/stream/EventBatchEncoder.js';
import { MessageHeaderEncoder } from '../../codecs/generated/stream/MessageHeaderEncoder.js';

/** Bytes of the SBE message header in front of every stream message. */
export const STREAM_HEADER_LENGTH = MessageHeaderEncoder.ENCODED_LENGTH;
/** Offset of the events group's dimension (blockLength u16, numInGroup u16) in an EventBatch. */
export const BATCH_GROUP_HEADER_OFFSET = STREAM_HEADER_LENGTH + EventBatchEncoder.BLOCK_LENGTH;
/** Bytes of an EventBatch before its first event. */
export const BATCH_OVERHEAD = BATCH_GROUP_HEADER_OFFSET + 4;
/**
 * Offsets within one event entry: recordingId i64, position i64, utcNs i64, monoNs i64, flags
 * u16, (version 2) sourceAddress u8[16] and sourcePort u16, then the payload's u32 length (at
 * the group's block length: a version-1 block ends after flags).
 */
export const EventField = {
  RECORDING_ID: 0,
  POSITION: 8,
  UTC_NS: 16,
  MONO_NS: 24,
  FLAGS: 32,
  SOURCE_ADDRESS: 34,
  SOURCE_PORT: 50,
  PAYLOAD_LENGTH: 52,
} as const;
/** The group's block: the fixed fields of one event. */
export const EVENT_BLOCK = 52;
/** The block of a version-1 event (no source fields). */
export const EVENT_BLOCK_V1 = 34;
const E = EventBatchEventsEncoder;
if (
  E.BLOCK_LENGTH !== EVENT_BLOCK || E.flagsEncodingOffset() !== EventField.FLAGS ||
  E.sourceAddressEncodingOffset() !== EventField.SOURCE_ADDRESS || E.sourcePortEncodingOffset() !== EventField.SOURCE_PORT
) {
  throw new Error('stream-layout: the EventBatch event layout of codecs/stream.xml changed');
}
/** Bytes in front of an event's payload: its block and the payload's length. */
export const EVENT_OVERHEAD = EVENT_BLOCK + 4;
/** Events in one batch at most (the group count is a u16 whose 65535 means null). */
export const MAX_BATCH_EVENTS = 65534;
/**
 * The largest frame a stream carries: one event as large as a segment (1 GiB at most) with its
 * overheads. A client accepts frames up to this from the archiver it asked.
 */
export const MAX_STREAM_FRAME = 1024 * 1024 * 1024 + 64 * 1024;
