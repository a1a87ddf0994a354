/**
 * Event frames in a segment buffer: checksum and structural check. Pure functions over a
 * Buffer (a segment mapping, or any buffer in tests). A frame's length field is written last,
 * so a zero length means "not written yet"; anything else must pass every check below before
 * the frame counts as stored.
 */
import { crc32c } from '../util/crc32c.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType, alignFrame } from './layout.js';

const lengthScratch = Buffer.alloc(4);

/**
 * CRC32C of the frame at `offset` with its length field set to `frameLength` and the CRC
 * field zeroed: the header bytes 4..32 (CRC must read as zero there) and, for DATA frames,
 * the payload that follows contiguously.
 */
export function frameCrc(buf: Buffer, offset: number, frameLength: number, type: number): number {
  lengthScratch.writeInt32LE(frameLength, 0);
  let c = crc32c(lengthScratch, 0, 4);
  c = crc32c(buf, offset + 4, FrameOffset.CRC - 4, c);
  lengthScratch.writeUInt32LE(0, 0);
  c = crc32c(lengthScratch, 0, 4, c);
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
} as const;
export type FrameStatusValue = (typeof FrameStatus)[keyof typeof FrameStatus];

export function frameStatusText(s: FrameStatusValue): string {
  switch (s) {
    case FrameStatus.OK: return 'ok';
    case FrameStatus.NOT_WRITTEN: return 'frame not written (zero length)';
    case FrameStatus.END_OF_SEGMENT: return 'end of segment';
    case FrameStatus.BAD_LENGTH: return 'frame length out of range';
    case FrameStatus.BAD_TYPE: return 'unknown frame type';
    default: return 'frame CRC32C mismatch';
  }
}

/**
 * Checks the frame at `offset` of a segment of `segmentLength` bytes (buf may be the whole
 * mapping). `verifyCrc` false skips the checksum (readers trust frames recovery accepted).
 */
export function checkFrame(buf: Buffer, offset: number, segmentLength: number, verifyCrc: boolean): FrameStatusValue {
  if (segmentLength - offset < FRAME_HEADER_LENGTH) return FrameStatus.END_OF_SEGMENT;
  const length = buf.readInt32LE(offset);
  if (length === 0) return FrameStatus.NOT_WRITTEN;
  if (length < FRAME_HEADER_LENGTH || alignFrame(length) > segmentLength - offset) return FrameStatus.BAD_LENGTH;
  const type = buf.readUInt16LE(offset + FrameOffset.TYPE);
  if (type !== FrameType.DATA && type !== FrameType.PADDING && type !== FrameType.DELETED) return FrameStatus.BAD_TYPE;
  if (verifyCrc && frameCrc(buf, offset, length, type) !== buf.readUInt32LE(offset + FrameOffset.CRC)) return FrameStatus.BAD_CRC;
  return FrameStatus.OK;
}

/**
 * Writes a non-DATA frame (PADDING or DELETED) of `length` bytes at `offset`: header only,
 * CRC over the header, length stored last. The body is left as it is (callers zero it).
 */
export function writeHeaderOnlyFrame(buf: Buffer, offset: number, length: number, type: number, utcNs: bigint, monoNs: bigint): void {
  buf.writeInt32LE(0, offset);
  buf.writeUInt16LE(type, offset + FrameOffset.TYPE);
  buf.writeUInt16LE(0, offset + FrameOffset.FLAGS);
  buf.writeBigInt64LE(utcNs, offset + FrameOffset.UTC);
  buf.writeBigInt64LE(monoNs, offset + FrameOffset.MONO);
  buf.writeUInt32LE(0, offset + FrameOffset.CRC);
  buf.writeUInt32LE(0, offset + FrameOffset.RESERVED);
  buf.writeUInt32LE(frameCrc(buf, offset, length, type), offset + FrameOffset.CRC);
  buf.writeInt32LE(length, offset);
}
