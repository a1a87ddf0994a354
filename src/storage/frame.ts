/**
 * Event frames in a segment buffer: checksum and structural check. Pure functions over a
 * Buffer (a segment mapping, or any buffer in tests). A frame's length field is written last,
 * so a zero length means "not written yet"; anything else must pass every check below before
 * the frame counts as stored. A DATA frame whose flags announce a source address carries it
 * as a trailer after the payload, inside frameLength (docs/FORMAT.md "Source address"): its
 * payload is frameLength - 32 - the trailer's length.
 */
import { EventFrameHeaderDecoder, EventFrameHeaderEncoder } from '../../codecs/generated/storage/index.js';
import { crc32c, crc32cInt32 } from '../util/crc32c.js';
import { sourceLength } from '../util/source-address.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType, alignFrame } from './layout.js';

const headerEncoder = new EventFrameHeaderEncoder();
const headerDecoder = new EventFrameHeaderDecoder();

/**
 * CRC32C of the frame at `offset` with its length field set to `frameLength` and the CRC
 * field zeroed: the header bytes 4..32 (CRC must read as zero there) and, for DATA frames,
 * the payload that follows contiguously.
 */
export function frameCrc(buf: Buffer, offset: number, frameLength: number, type: number): number {
  // the length field leads the header (FORMAT.md): it is covered with the value it will hold
  let c = crc32cInt32(frameLength);
  c = crc32c(buf, offset + 4, FrameOffset.CRC - 4, c);
  c = crc32cInt32(0, c);
  const covered = type === FrameType.DATA ? frameLength : FRAME_HEADER_LENGTH;
  c = crc32c(buf, offset + FrameOffset.CRC + 4, covered - FrameOffset.CRC - 4, c);
  return c;
}

export const FrameStatus = {
  OK: 0,
  NOT_WRITTEN: 1,
  END_OF_SEGMENT: 2,
  BAD_LENGTH: 3,
  BAD_TYPE: 4,
  BAD_CRC: 5,
  /** DATA frame flags announce a source trailer that is invalid (both families) or longer than the frame's body. */
  BAD_SOURCE: 6,
} as const;
export type FrameStatusValue = (typeof FrameStatus)[keyof typeof FrameStatus];

export function frameStatusText(s: FrameStatusValue): string {
  switch (s) {
    case FrameStatus.OK: return 'ok';
    case FrameStatus.NOT_WRITTEN: return 'frame not written (zero length)';
    case FrameStatus.END_OF_SEGMENT: return 'end of segment';
    case FrameStatus.BAD_LENGTH: return 'frame length out of range';
    case FrameStatus.BAD_TYPE: return 'unknown frame type';
    case FrameStatus.BAD_SOURCE: return 'frame source address flags do not fit the frame';
    default: return 'frame CRC32C mismatch';
  }
}

/**
 * Checks the frame at `offset` of a segment of `segmentLength` bytes (buf may be the whole
 * mapping). `verifyCrc` false skips the checksum (readers trust frames recovery accepted).
 */
export function checkFrame(buf: Buffer, offset: number, segmentLength: number, verifyCrc: boolean): FrameStatusValue {
  if (segmentLength - offset < FRAME_HEADER_LENGTH) return FrameStatus.END_OF_SEGMENT;
  const h = headerDecoder.wrap(buf, offset);
  const length = h.frameLength();
  if (length === 0) return FrameStatus.NOT_WRITTEN;
  if (length < FRAME_HEADER_LENGTH || alignFrame(length) > segmentLength - offset) return FrameStatus.BAD_LENGTH;
  const type = h.frameType();
  if (type !== FrameType.DATA && type !== FrameType.PADDING && type !== FrameType.DELETED) return FrameStatus.BAD_TYPE;
  if (type === FrameType.DATA) {
    const sl = sourceLength(h.flags());
    if (sl < 0 || sl > length - FRAME_HEADER_LENGTH) return FrameStatus.BAD_SOURCE;
  }
  if (verifyCrc && frameCrc(buf, offset, length, type) !== h.crc32c()) return FrameStatus.BAD_CRC;
  return FrameStatus.OK;
}

/**
 * Writes a non-DATA frame (PADDING or DELETED) of `length` bytes at `offset`: header only,
 * CRC over the header, length stored last. The body is left as it is (callers zero it).
 * The old length stays until that last store: a DELETED header written over a DATA frame
 * is, at every moment, a frame whose length leads to a frame boundary, so a crash in the
 * middle leaves a readable segment (the deletion is applied again at the next open).
 */
export function writeHeaderOnlyFrame(buf: Buffer, offset: number, length: number, type: FrameType, utcNs: bigint, monoNs: bigint): void {
  const h = headerEncoder.wrap(buf, offset).frameType(type).flags(0).utcNs(utcNs).monoNs(monoNs).crc32c(0).reserved(0);
  h.crc32c(frameCrc(buf, offset, length, type));
  h.frameLength(length);
}


/** Payload bytes of a DATA frame of `frameLength` bytes with `flags` (the source trailer excluded); negative when they do not fit. */
export function framePayloadLength(frameLength: number, flags: number): number {
  const sl = sourceLength(flags);
  return sl < 0 ? -1 : frameLength - FRAME_HEADER_LENGTH - sl;
}
