/**
 * Builds capture files byte by byte from the pcap and pcapng specifications, for tests: frames
 * of every link type the importer reads (Ethernet with VLAN tags, Linux cooked SLL/SLL2, raw
 * IP, BSD null/loop), IPv4/IPv6 packets (with extension headers and fragments), and files in
 * both byte orders and resolutions. Written independently of src/pcap so a shared mistake
 * cannot hide.
 */

export type Endian = 'le' | 'be';

function u16(v: number, e: Endian = 'be'): Buffer {
  const b = Buffer.alloc(2);
  if (e === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

function u32(v: number, e: Endian = 'be'): Buffer {
  const b = Buffer.alloc(4);
  if (e === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/** A full IPv6 address as 8 hex groups, e.g. 'fd00:0:0:0:0:0:0:1' (no '::' here, to stay simple). */
function ip6(a: string): Buffer {
  const groups = a.split(':');
  if (groups.length !== 8) throw new Error('test ip6: give 8 groups');
  return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
}

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function udp(srcPort: number, dstPort: number, payload: Buffer): Buffer {
  return Buffer.concat([u16(srcPort), u16(dstPort), u16(8 + payload.length), u16(0), payload]);
}

export interface Ipv4Options {
  protocol?: number;
  moreFragments?: boolean;
  fragmentOffset8?: number;
  /** Override the total length field (a lying header). */
  totalLength?: number;
}

export function ipv4(src: string, dst: string, l4: Buffer, o: Ipv4Options = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(o.totalLength ?? 20 + l4.length, 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE((o.moreFragments ? 0x2000 : 0) | (o.fragmentOffset8 ?? 0), 6);
  h[8] = 64;
  h[9] = o.protocol ?? 17;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, l4]);
}

/** An IPv6 extension header (hop-by-hop 0, routing 43, destination options 60): next header + padding to `units` x 8 bytes. */
export function ext6(next: number, units = 1): Buffer {
  const b = Buffer.alloc(units * 8);
  b[0] = next;
  b[1] = units - 1;
  return b;
}

export function frag6(next: number, offset8: number, more: boolean): Buffer {
  const b = Buffer.alloc(8);
  b[0] = next;
  b.writeUInt16BE((offset8 << 3) | (more ? 1 : 0), 2);
  b.writeUInt32BE(0xabcd, 4);
  return b;
}

/** IPv6 with `firstNext` as the header's next-header, then `rest` (extension headers and the L4 header). */
export function ipv6(src: string, dst: string, firstNext: number, rest: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(rest.length, 4);
  h[6] = firstNext;
  h[7] = 64;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, rest]);
}

/** dst MAC, src MAC, then for each VLAN tag its TPID and TCI, then the EtherType and the payload. */
export function ethernet(etherType: number, payload: Buffer, vlanTpids: number[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])];
  vlanTpids.forEach((tpid, i) => parts.push(u16(tpid), u16(100 + i)));
  parts.push(u16(etherType), payload);
  return Buffer.concat(parts);
}

export function sll(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // packet type: to us
  h.writeUInt16BE(772, 2); // ARPHRD_LOOPBACK
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

export function sll2(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(1, 4); // interface index
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[11] = 6;
  return Buffer.concat([h, payload]);
}

export function nullLink(family: number, e: Endian, payload: Buffer): Buffer {
  return Buffer.concat([u32(family, e), payload]);
}

export interface PcapPacket {
  tsNs: bigint;
  frame: Buffer;
  /** captured length smaller than the frame (snaplen cut); default whole */
  captured?: number;
}

export function pcapFile(o: { endian: Endian; nano: boolean; linkType: number; snapLength?: number }, packets: PcapPacket[]): Buffer {
  const e = o.endian;
  const parts: Buffer[] = [u32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4, e), u16(2, e), u16(4, e), u32(0, e), u32(0, e), u32(o.snapLength ?? 65535, e), u32(o.linkType, e)];
  for (const p of packets) {
    const captured = p.captured ?? p.frame.length;
    const sec = Number(p.tsNs / 1_000_000_000n);
    const ns = Number(p.tsNs % 1_000_000_000n);
    parts.push(u32(sec, e), u32(o.nano ? ns : Math.floor(ns / 1000), e), u32(captured, e), u32(p.frame.length, e), p.frame.subarray(0, captured));
  }
  return Buffer.concat(parts);
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

function block(type: number, body: Buffer, e: Endian): Buffer {
  const total = 12 + pad4(body).length;
  return Buffer.concat([u32(type, e), u32(total, e), pad4(body), u32(total, e)]);
}

function option(code: number, value: Buffer, e: Endian): Buffer {
  return Buffer.concat([u16(code, e), u16(value.length, e), pad4(value)]);
}

export interface NgInterface {
  linkType: number;
  snapLength?: number;
  /** if_tsresol byte (default: none given, i.e. microseconds) */
  tsresol?: number;
  /** if_tsoffset seconds */
  tsoffset?: bigint;
}

export type NgBlock =
  | { kind: 'shb' }
  | { kind: 'idb'; iface: NgInterface }
  | { kind: 'epb'; iface: number; ticks: bigint; frame: Buffer; captured?: number }
  | { kind: 'spb'; frame: Buffer }
  | { kind: 'other'; type: number; body: Buffer };

export function pcapngFile(e: Endian, blocks: NgBlock[]): Buffer {
  const out: Buffer[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'shb': {
        const len = Buffer.alloc(8, 0xff); // section length unknown (-1)
        out.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, e), u16(1, e), u16(0, e), len]), e));
        break;
      }
      case 'idb': {
        const opts: Buffer[] = [];
        if (b.iface.tsresol !== undefined) opts.push(option(9, Buffer.from([b.iface.tsresol]), e));
        if (b.iface.tsoffset !== undefined) {
          const v = Buffer.alloc(8);
          if (e === 'le') v.writeBigInt64LE(b.iface.tsoffset);
          else v.writeBigInt64BE(b.iface.tsoffset);
          opts.push(option(14, v, e));
        }
        if (opts.length) opts.push(u16(0, e), u16(0, e));
        out.push(block(1, Buffer.concat([u16(b.iface.linkType, e), u16(0, e), u32(b.iface.snapLength ?? 0, e), ...opts]), e));
        break;
      }
      case 'epb': {
        const captured = b.captured ?? b.frame.length;
        const hi = Number(b.ticks >> 32n);
        const lo = Number(b.ticks & 0xffffffffn);
        out.push(block(6, Buffer.concat([u32(b.iface, e), u32(hi, e), u32(lo, e), u32(captured, e), u32(b.frame.length, e), pad4(b.frame.subarray(0, captured))]), e));
        break;
      }
      case 'spb':
        out.push(block(3, Buffer.concat([u32(b.frame.length, e), b.frame]), e));
        break;
      case 'other':
        out.push(block(b.type, b.body, e));
        break;
    }
  }
  return Buffer.concat(out);
}
