/**
 * Classic pcap (libpcap savefile): a 24-byte file header whose magic gives the byte order
 * (0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds, either order), then records of a 16-byte
 * header (seconds, fraction, captured length, original length) and the captured bytes. One
 * link type for the whole file, in the low 16 bits of the header's last field (the upper bits
 * may carry FCS information, which the IP lengths make irrelevant here).
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { BlockReader, CaptureRecord } from './capture-record.js';

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
export const PCAP_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** libpcap's own bound for a record beyond the snapshot length. */
const MIN_RECORD_BOUND = 262_144;

export class PcapReader implements BlockReader {
  readonly format = 'pcap' as const;
  needed = PCAP_HEADER_LENGTH;
  packet = false;
  private headerRead = false;
  private littleEndian = true;
  private fractionNs = 1000n;
  private maxRecord = MIN_RECORD_BOUND;
  linkType = -1;
  snapLength = 0;

  /** `isSupportedLink` decides whether the file's link type is refused (CAPTURE_UNSUPPORTED) at its header. */
  constructor(private readonly isSupportedLink: (linkType: number) => boolean) {}

  next(buf: Buffer, off: number, end: number, fileOffset: number, out: CaptureRecord): number {
    this.packet = false;
    if (!this.headerRead) return this.readHeader(buf, off, end);
    if (end - off < PCAP_RECORD_HEADER_LENGTH) {
      this.needed = PCAP_RECORD_HEADER_LENGTH;
      return 0;
    }
    const le = this.littleEndian;
    const sec = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
    const frac = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
    const incl = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    const orig = le ? buf.readUInt32LE(off + 12) : buf.readUInt32BE(off + 12);
    if (incl > this.maxRecord) {
      throw new VcrError(
        ErrorCode.CAPTURE_INVALID,
        `pcap record at offset ${fileOffset} claims ${incl} captured bytes, more than the file's limit of ${this.maxRecord} (snapshot length ${this.snapLength})`,
      );
    }
    const total = PCAP_RECORD_HEADER_LENGTH + incl;
    if (end - off < total) {
      this.needed = total;
      return 0;
    }
    out.tsNs = BigInt(sec) * 1_000_000_000n + BigInt(frac) * this.fractionNs;
    out.untimed = false;
    out.linkType = this.linkType;
    out.data = buf;
    out.dataOffset = off + PCAP_RECORD_HEADER_LENGTH;
    out.dataLength = incl;
    out.origLength = orig;
    this.packet = true;
    return total;
  }

  private readHeader(buf: Buffer, off: number, end: number): number {
    if (end - off < PCAP_HEADER_LENGTH) {
      this.needed = PCAP_HEADER_LENGTH;
      return 0;
    }
    const magicLe = buf.readUInt32LE(off);
    if (magicLe === PCAP_MAGIC_MICRO || magicLe === PCAP_MAGIC_NANO) this.littleEndian = true;
    else if (buf.readUInt32BE(off) === PCAP_MAGIC_MICRO || buf.readUInt32BE(off) === PCAP_MAGIC_NANO) this.littleEndian = false;
    else throw new VcrError(ErrorCode.CAPTURE_INVALID, `not a pcap file: magic 0x${buf.readUInt32BE(off).toString(16).padStart(8, '0')}`);
    const le = this.littleEndian;
    const magic = le ? magicLe : buf.readUInt32BE(off);
    this.fractionNs = magic === PCAP_MAGIC_NANO ? 1n : 1000n;
    const major = le ? buf.readUInt16LE(off + 4) : buf.readUInt16BE(off + 4);
    if (major !== 2) throw new VcrError(ErrorCode.CAPTURE_UNSUPPORTED, `pcap format version ${major} is not supported (only 2.x)`);
    this.snapLength = le ? buf.readUInt32LE(off + 16) : buf.readUInt32BE(off + 16);
    this.maxRecord = Math.max(this.snapLength, MIN_RECORD_BOUND);
    const network = le ? buf.readUInt32LE(off + 20) : buf.readUInt32BE(off + 20);
    this.linkType = network & 0xffff;
    if (!this.isSupportedLink(this.linkType)) {
      throw new VcrError(ErrorCode.CAPTURE_UNSUPPORTED, `pcap link type ${this.linkType} is not supported (Ethernet 1, raw IP 101/12/14/228/229, Linux cooked 113/276, loopback 0/108)`);
    }
    this.headerRead = true;
    return PCAP_HEADER_LENGTH;
  }
}
