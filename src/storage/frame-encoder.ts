/**
 * Encodes one DATA frame (header, payload, optional source trailer, CRC) into a destination
 * (a segment mapping or the writer's staging buffer), everything but the length word, which
 * the caller stores last to publish the frame.
 *
 * The header goes in with typed-array stores at literal indexes (words: type | flags << 16 at
 * byte 4, crc at 24, reserved at 28; longs: utc at 8, mono at 16 of the 8-aligned frame),
 * checked against the offsets derived from the generated codec when this module loads.
 * A short payload (< FUSED_COPY_LIMIT) is copied and checksummed in one JS pass (no subarray,
 * no allocation); the header's CRC state without its length depends on type, flags and times
 * only, which consecutive events mostly share (one file read or datagram batch shares its
 * timestamps), so it is computed once for them and the length is folded in with four table
 * entries (CRC linearity). Longer payloads take one native copy and the native CRC.
 */
import { crc32c, crc32cAligned, crc32cCopyRaw, crc32cInt32, crc32cJs, crc32cRawPair, crc32cRawWord, crc32cWhole, crc32cWordShiftTable } from '../util/crc32c.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType } from './layout.js';

/** Payloads shorter than this are copied and CRC'd in one JS pass; longer ones use the native CRC. */
export const FUSED_COPY_LIMIT = 384;
/**
 * A frame's length word's share of its header CRC state: the length is the first word the
 * CRC covers, followed by the other 28 header bytes.
 */
const LENGTH_SHIFT = crc32cWordShiftTable(FRAME_HEADER_LENGTH - 4);

if (
  FrameOffset.LENGTH !== 0 || FrameOffset.TYPE !== 4 || FrameOffset.FLAGS !== 6 || FrameOffset.UTC !== 8 ||
  FrameOffset.MONO !== 16 || FrameOffset.CRC !== 24 || FrameOffset.RESERVED !== 28
) {
  throw new Error('FrameEncoder: the EventFrameHeader layout changed; update its typed-array indexes');
}

/** A destination: one memory seen as bytes, words and longs (frame offsets are 8-aligned). */
export interface FrameTarget {
  bytes: Uint8Array;
  words: Int32Array;
  longs: BigInt64Array;
}

export class FrameEncoder {
  /** The header cache: the raw CRC state of the header without its length, and its key. */
  private hdrState = 0;
  private hdrTypeFlags = -1;
  private hdrU0 = 0;
  private hdrU1 = 0;
  private hdrM0 = 0;
  private hdrM1 = 0;
  /** The last caller buffer and a DataView of it (unaligned word loads). */
  private srcBytes: Uint8Array | undefined;
  private srcView: DataView | undefined;

  /**
   * Writes the frame of `frameLength` bytes at `o` of `t`, except its length word (left as
   * it was); returns its CRC. `srcLen` bytes of source trailer come from `src[srcOff..]`.
   */
  encode(t: FrameTarget, o: number, buf: Uint8Array, off: number, len: number, utcNs: bigint, monoNs: bigint, flags: number, frameLength: number, src: Uint8Array | undefined, srcOff: number, srcLen: number): number {
    const seg = t.bytes;
    const w32 = t.words;
    const l64 = t.longs;
    const typeFlags = FrameType.DATA | (flags << 16);
    w32[(o + 4) >> 2] = typeFlags;
    l64[(o + 8) >> 3] = utcNs;
    l64[(o + 16) >> 3] = monoNs;
    w32[(o + 24) >> 2] = 0; // the CRC is computed with its field zero
    w32[(o + 28) >> 2] = 0;
    let crc: number;
    if (len < FUSED_COPY_LIMIT) {
      const u0 = w32[(o + 8) >> 2]!;
      const u1 = w32[(o + 12) >> 2]!;
      const m0 = w32[(o + 16) >> 2]!;
      const m1 = w32[(o + 20) >> 2]!;
      if (typeFlags !== this.hdrTypeFlags || u0 !== this.hdrU0 || u1 !== this.hdrU1 || m0 !== this.hdrM0 || m1 !== this.hdrM1) {
        this.hdrTypeFlags = typeFlags;
        this.hdrU0 = u0;
        this.hdrU1 = u1;
        this.hdrM0 = m0;
        this.hdrM1 = m1;
        let h = crc32cRawWord(crc32cRawWord(-1, 0), typeFlags);
        h = crc32cRawPair(crc32cRawPair(crc32cRawPair(h, u0, u1), m0, m1), 0, 0);
        this.hdrState = h;
      }
      let c =
        this.hdrState ^
        LENGTH_SHIFT[frameLength & 255]! ^
        LENGTH_SHIFT[256 + ((frameLength >>> 8) & 255)]! ^
        LENGTH_SHIFT[512 + ((frameLength >>> 16) & 255)]! ^
        LENGTH_SHIFT[768 + (frameLength >>> 24)]!;
      if (buf !== this.srcBytes) {
        this.srcBytes = buf;
        this.srcView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      }
      c = crc32cCopyRaw(c, buf, this.srcView!, off, len, w32, seg, o + FRAME_HEADER_LENGTH);
      crc = ~c >>> 0;
    } else {
      // long payloads: one native copy, native CRC over the caller's bytes (identical to the copy), no subarray when whole
      const whole = off === 0 && len === buf.length;
      seg.set(whole ? buf : buf.subarray(off, off + len), o + FRAME_HEADER_LENGTH);
      const h = crc32cAligned(w32, seg, o + 4, FRAME_HEADER_LENGTH - 4, crc32cInt32(frameLength));
      crc = whole ? crc32cWhole(buf, h) : crc32c(buf, off, len, h);
    }
    if (srcLen !== 0) {
      // the source trailer follows the payload; the CRC goes on over it
      const at = o + FRAME_HEADER_LENGTH + len;
      for (let i = 0; i < srcLen; i++) seg[at + i] = src![srcOff + i]!;
      crc = crc32cJs(seg, at, srcLen, crc);
    }
    w32[(o + 24) >> 2] = crc;
    return crc;
  }
}
