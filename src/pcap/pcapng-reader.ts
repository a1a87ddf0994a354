/**
 * pcapng: a sequence of blocks (type, total length, body, total length again), grouped in
 * sections that each start with a Section Header Block whose byte-order magic sets the byte
 * order of the section. Interface Description Blocks give each interface its link type and
 * timestamp resolution (if_tsresol: 10^-n or 2^-n seconds, default microseconds) and offset
 * (if_tsoffset, seconds); packets come in Enhanced Packet Blocks (interface id, 64-bit time),
 * Simple Packet Blocks (interface 0, no time: dated with the previous packet's time and
 * flagged `untimed`) and the obsolete Packet Block. Every other block is skipped. Interface
 * ids and timestamps are per section.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { MAX_CAPTURE_BLOCK, type BlockReader, type CaptureRecord } from './capture-record.js';

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_PB = 0x00000002;
export const BLOCK_SPB = 0x00000003;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const OPT_ENDOFOPT = 0;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_TSOFFSET = 14;

interface Interface {
  linkType: number;
  snapLength: number;
  /** ns = ticks * mul / div (exact for 10^-n, n <= 9; 2^-n and finer units divide). */
  mul: bigint;
  div: bigint;
  offsetNs: bigint;
}

function invalid(fileOffset: number, why: string): VcrError {
  return new VcrError(ErrorCode.CAPTURE_INVALID, `pcapng block at offset ${fileOffset}: ${why}`);
}

export class PcapngReader implements BlockReader {
  readonly format = 'pcapng' as const;
  needed = 12;
  packet = false;
  private le = true;
  private inSection = false;
  private interfaces: Interface[] = [];
  private lastTsNs = 0n;
  /** Blocks of types other than packets and interfaces, skipped. */
  skippedBlocks = 0;

  next(buf: Buffer, off: number, end: number, fileOffset: number, out: CaptureRecord): number {
    this.packet = false;
    if (end - off < 12) {
      this.needed = 12;
      return 0;
    }
    const typeLe = buf.readUInt32LE(off);
    if (typeLe === BLOCK_SHB) {
      const bom = buf.readUInt32LE(off + 8);
      if (bom === BYTE_ORDER_MAGIC) this.le = true;
      else if (buf.readUInt32BE(off + 8) === BYTE_ORDER_MAGIC) this.le = false;
      else throw invalid(fileOffset, `section header with a bad byte-order magic 0x${buf.readUInt32BE(off + 8).toString(16)}`);
    } else if (!this.inSection) {
      throw invalid(fileOffset, 'the file does not start with a section header block');
    }
    const le = this.le;
    const type = le ? typeLe : buf.readUInt32BE(off);
    const total = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
    if (total < 12 || total % 4 !== 0) throw invalid(fileOffset, `block total length ${total} is not a multiple of 4 of at least 12`);
    if (total > MAX_CAPTURE_BLOCK) throw invalid(fileOffset, `block total length ${total} exceeds the limit of ${MAX_CAPTURE_BLOCK} bytes`);
    if (end - off < total) {
      this.needed = total;
      return 0;
    }
    const trailer = le ? buf.readUInt32LE(off + total - 4) : buf.readUInt32BE(off + total - 4);
    if (trailer !== total) throw invalid(fileOffset, `block total length ${total} and trailing length ${trailer} differ`);
    const body = off + 8;
    const bodyEnd = off + total - 4;
    switch (type) {
      case BLOCK_SHB:
        this.section(buf, body, bodyEnd, fileOffset);
        break;
      case BLOCK_IDB:
        this.interfaceBlock(buf, body, bodyEnd, fileOffset);
        break;
      case BLOCK_EPB:
      case BLOCK_PB:
        this.timedPacket(type, buf, body, bodyEnd, fileOffset, out);
        break;
      case BLOCK_SPB:
        this.simplePacket(buf, body, bodyEnd, fileOffset, out);
        break;
      default:
        this.skippedBlocks++;
    }
    return total;
  }

  private u16(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  private u32(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  private section(buf: Buffer, body: number, bodyEnd: number, fileOffset: number): void {
    if (bodyEnd - body < 16) throw invalid(fileOffset, 'section header block too short');
    const major = this.u16(buf, body + 4);
    if (major !== 1) throw new VcrError(ErrorCode.CAPTURE_UNSUPPORTED, `pcapng section version ${major} at offset ${fileOffset} is not supported (only 1.x)`);
    this.inSection = true;
    this.interfaces = [];
  }

  private interfaceBlock(buf: Buffer, body: number, bodyEnd: number, fileOffset: number): void {
    if (bodyEnd - body < 8) throw invalid(fileOffset, 'interface description block too short');
    const iface: Interface = { linkType: this.u16(buf, body), snapLength: this.u32(buf, body + 4), mul: 1000n, div: 1n, offsetNs: 0n };
    let at = body + 8;
    while (at + 4 <= bodyEnd) {
      const code = this.u16(buf, at);
      const len = this.u16(buf, at + 2);
      const value = at + 4;
      if (code === OPT_ENDOFOPT) break;
      if (value + len > bodyEnd) throw invalid(fileOffset, `interface option ${code} of ${len} bytes runs past the block`);
      if (code === OPT_IF_TSRESOL && len >= 1) {
        const r = buf[value]!;
        const n = BigInt(r & 0x7f);
        if (r & 0x80) {
          if (n > 64n) throw invalid(fileOffset, `if_tsresol 2^-${n} is out of range`);
          iface.mul = 1_000_000_000n;
          iface.div = 1n << n;
        } else {
          if (n > 18n) throw invalid(fileOffset, `if_tsresol 10^-${n} is out of range`);
          iface.mul = n <= 9n ? 10n ** (9n - n) : 1n;
          iface.div = n <= 9n ? 1n : 10n ** (n - 9n);
        }
      } else if (code === OPT_IF_TSOFFSET && len >= 8) {
        const v = this.le ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value);
        iface.offsetNs = v * 1_000_000_000n;
      }
      at = value + ((len + 3) & ~3);
    }
    this.interfaces.push(iface);
  }

  private iface(id: number, fileOffset: number): Interface {
    const i = this.interfaces[id];
    if (!i) throw invalid(fileOffset, `packet names interface ${id}, but the section describes ${this.interfaces.length}`);
    return i;
  }

  private timedPacket(type: number, buf: Buffer, body: number, bodyEnd: number, fileOffset: number, out: CaptureRecord): void {
    if (bodyEnd - body < 20) throw invalid(fileOffset, 'packet block too short');
    const id = type === BLOCK_EPB ? this.u32(buf, body) : this.u16(buf, body);
    const iface = this.iface(id, fileOffset);
    const ticks = (BigInt(this.u32(buf, body + 4)) << 32n) | BigInt(this.u32(buf, body + 8));
    const captured = this.u32(buf, body + 12);
    if (captured > bodyEnd - body - 20) throw invalid(fileOffset, `captured length ${captured} runs past the block`);
    out.tsNs = (ticks * iface.mul) / iface.div + iface.offsetNs;
    out.untimed = false;
    this.lastTsNs = out.tsNs;
    out.linkType = iface.linkType;
    out.data = buf;
    out.dataOffset = body + 20;
    out.dataLength = captured;
    out.origLength = this.u32(buf, body + 16);
    this.packet = true;
  }

  private simplePacket(buf: Buffer, body: number, bodyEnd: number, fileOffset: number, out: CaptureRecord): void {
    if (bodyEnd - body < 4) throw invalid(fileOffset, 'simple packet block too short');
    const iface = this.iface(0, fileOffset);
    const orig = this.u32(buf, body);
    let captured = Math.min(orig, bodyEnd - body - 4);
    if (iface.snapLength > 0) captured = Math.min(captured, iface.snapLength);
    out.tsNs = this.lastTsNs;
    out.untimed = true;
    out.linkType = iface.linkType;
    out.data = buf;
    out.dataOffset = body + 4;
    out.dataLength = captured;
    out.origLength = orig;
    this.packet = true;
  }
}
