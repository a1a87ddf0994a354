/**
 * What the capture readers hand out: one captured packet (a view into the reader's buffer,
 * valid until more bytes are pushed), with its time in UTC nanoseconds and the link type of
 * the interface it was captured on. Also the limits every reader applies, so a lying length
 * field costs a clear error instead of a huge allocation.
 */
export interface CaptureRecord {
  /** Capture time, nanoseconds since the epoch (UTC). */
  tsNs: bigint;
  /** True when the block carried no time (pcapng Simple Packet Block): tsNs is the previous packet's. */
  untimed: boolean;
  /** LINKTYPE_ value of the interface (pcap: the file's; pcapng: the interface's IDB). */
  linkType: number;
  data: Buffer;
  dataOffset: number;
  /** Bytes captured (at most the snapshot length). */
  dataLength: number;
  /** Bytes the packet had on the wire. */
  origLength: number;
}

export function newCaptureRecord(): CaptureRecord {
  return { tsNs: 0n, untimed: false, linkType: 0, data: Buffer.alloc(0), dataOffset: 0, dataLength: 0, origLength: 0 };
}

/** Largest pcapng block or pcap record accepted (libpcap accepts records up to 256 KiB beyond a small snaplen; blocks may carry options). */
export const MAX_CAPTURE_BLOCK = 16 * 1024 * 1024;

/**
 * A reader of one capture format, fed a byte buffer by CaptureStream. `next` parses the block
 * at buf[off, end): it returns the bytes consumed (the block was whole) and sets `packet` when
 * it was a packet (filling `out`), or returns 0 when the block is not whole yet; `needed` then
 * says how many bytes from `off` it takes. Structural problems throw VcrError CAPTURE_INVALID
 * or CAPTURE_UNSUPPORTED; `fileOffset` is buf[off]'s offset in the file, for messages.
 */
export interface BlockReader {
  readonly format: 'pcap' | 'pcapng';
  /** Bytes from `off` the block in progress needs (after next returned 0). */
  needed: number;
  /** Whether the block next() just consumed was a packet (then `out` holds it). */
  packet: boolean;
  next(buf: Buffer, off: number, end: number, fileOffset: number, out: CaptureRecord): number;
}
