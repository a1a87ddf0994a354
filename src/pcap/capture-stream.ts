/**
 * Turns the bytes of a capture file, pushed in chunks of any size, into packet records: finds
 * the format from the first four bytes (pcap in either byte order and resolution, or pcapng),
 * keeps the unparsed tail between pushes, and after end() tells a cleanly ended file from one
 * cut inside a header or record (CAPTURE_TRUNCATED, naming the offset). Records are views into
 * the stream's buffer: valid until the next push().
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { BlockReader, CaptureRecord } from './capture-record.js';
import { isSupportedLinkType } from './packet-decoder.js';
import { PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PcapReader } from './pcap-reader.js';
import { BLOCK_SHB, PcapngReader } from './pcapng-reader.js';

export type NextResult = 'packet' | 'more' | 'end';

export class CaptureStream {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** File offset of buf[start]. */
  private offset = 0;
  private ended = false;
  private reader: BlockReader | undefined;

  /** 'pcap' or 'pcapng' once the first bytes were seen. */
  get format(): 'pcap' | 'pcapng' | undefined {
    return this.reader?.format;
  }

  /** Bytes pushed and not yet parsed. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** File offset just past the last whole block parsed. */
  get parsedOffset(): number {
    return this.offset;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const rest = this.end - this.start;
    if (rest === 0) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      return;
    }
    const joined = Buffer.allocUnsafe(rest + chunk.length);
    this.buf.copy(joined, 0, this.start, this.end);
    chunk.copy(joined, rest);
    this.buf = joined;
    this.start = 0;
    this.end = joined.length;
  }

  /** No more bytes will come. */
  finish(): void {
    this.ended = true;
  }

  /**
   * The next packet into `out` ('packet'), or 'more' (push more bytes), or 'end' (finished and
   * fully parsed). Throws VcrError CAPTURE_INVALID / CAPTURE_UNSUPPORTED for a malformed or
   * unsupported file and CAPTURE_TRUNCATED when it ends inside a header or record; records
   * returned before stay valid.
   */
  next(out: CaptureRecord): NextResult {
    for (;;) {
      const avail = this.end - this.start;
      if (!this.reader) {
        if (avail < 4) return this.needMore(avail, 4);
        this.reader = this.detect();
      }
      const n = this.reader.next(this.buf, this.start, this.end, this.offset, out);
      if (n === 0) return this.needMore(avail, this.reader.needed);
      this.start += n;
      this.offset += n;
      if (this.reader.packet) return 'packet';
    }
  }

  private needMore(avail: number, needed: number): NextResult {
    if (!this.ended) return 'more';
    if (avail === 0 && this.reader) return 'end';
    if (avail === 0) throw new VcrError(ErrorCode.CAPTURE_INVALID, 'the capture file is empty');
    throw new VcrError(
      ErrorCode.CAPTURE_TRUNCATED,
      `capture truncated at offset ${this.offset + avail}: the ${this.reader?.format ?? 'file'} ${this.offset === 0 ? 'header' : 'record'} at offset ${this.offset} needs ${needed} bytes, the file has ${avail}`,
    );
  }

  private detect(): BlockReader {
    const b = this.buf;
    const le = b.readUInt32LE(this.start);
    const be = b.readUInt32BE(this.start);
    if (le === PCAP_MAGIC_MICRO || le === PCAP_MAGIC_NANO || be === PCAP_MAGIC_MICRO || be === PCAP_MAGIC_NANO) return new PcapReader(isSupportedLinkType);
    if (le === BLOCK_SHB) return new PcapngReader();
    if (b[this.start] === 0x1f && b[this.start + 1] === 0x8b) {
      throw new VcrError(ErrorCode.CAPTURE_UNSUPPORTED, 'the capture is gzip-compressed: decompress it first');
    }
    throw new VcrError(ErrorCode.CAPTURE_INVALID, `not a pcap or pcapng file (first bytes 0x${be.toString(16).padStart(8, '0')})`);
  }
}
