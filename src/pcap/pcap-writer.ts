/**
 * Writes recorded events as a classic pcap that tcpdump and Wireshark read: nanosecond magic
 * 0xa1b23c4d, little-endian, link type Ethernet (1), each event one UDP datagram in an
 * unfragmented IPv4 or IPv6 packet with valid IP and UDP checksums, stamped with the event's
 * UTC time to the nanosecond. Each packet's addresses and ports are given with it (the
 * recorded source and the recording's endpoint) or, where not, are the writer's defaults (the
 * placeholders the caller chose); source and destination of one packet must be of one IP
 * family. MAC addresses are fixed locally administered ones. An event larger than one UDP datagram (65,507 bytes over IPv4, 65,527
 * over IPv6) is refused with EVENT_TOO_LARGE rather than fragmented.
 */
import { isIP } from 'node:net';
import { ErrorCode, VcrError } from '../util/errors.js';
import { addressBytes } from './capture-filter.js';
import { PCAP_MAGIC_NANO } from './pcap-reader.js';
import { LinkType } from './packet-decoder.js';

export const MAX_UDP_PAYLOAD_IPV4 = 65_535 - 20 - 8;
export const MAX_UDP_PAYLOAD_IPV6 = 65_535 - 8;
export const EXPORT_SNAP_LENGTH = 262_144;
export const SRC_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
export const DST_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

export interface UdpAddress {
  address: string;
  port: number;
}

export type ByteSink = (bytes: Uint8Array) => Promise<void>;

/** Ones' complement sum of 16-bit big-endian words, unfolded. */
function sum16(buf: Uint8Array, off: number, len: number, acc: number): number {
  let i = off;
  const end = off + len - 1;
  for (; i < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) acc += buf[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

export class PcapWriter {
  private readonly family: 4 | 6;
  private readonly src: Buffer;
  private readonly dst: Buffer;
  /** Address bytes of the per-packet addresses seen so far (few distinct ones in practice). */
  private readonly addressCache = new Map<string, Buffer>();
  private ipId = 0;
  packets = 0;
  bytes = 0;

  constructor(
    private readonly sink: ByteSink,
    private readonly srcEndpoint: UdpAddress,
    private readonly dstEndpoint: UdpAddress,
  ) {
    const fs = isIP(srcEndpoint.address);
    const fd = isIP(dstEndpoint.address);
    if (fs === 0 || fd === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'pcap export: source and destination must be IP addresses');
    if (fs !== fd) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `pcap export: source ${srcEndpoint.address} and destination ${dstEndpoint.address} are different IP families`);
    this.family = fs === 4 ? 4 : 6;
    this.src = addressBytes(srcEndpoint.address);
    this.dst = addressBytes(dstEndpoint.address);
  }

  get maxPayload(): number {
    return this.family === 4 ? MAX_UDP_PAYLOAD_IPV4 : MAX_UDP_PAYLOAD_IPV6;
  }

  private bytesOf(address: string): Buffer {
    let b = this.addressCache.get(address);
    if (b === undefined) {
      if (isIP(address) === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `pcap export: ${address} is not an IP address`);
      b = addressBytes(address);
      if (this.addressCache.size > 4096) this.addressCache.clear();
      this.addressCache.set(address, b);
    }
    return b;
  }

  async writeHeader(): Promise<void> {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(PCAP_MAGIC_NANO, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(EXPORT_SNAP_LENGTH, 16);
    h.writeUInt32LE(LinkType.ETHERNET, 20);
    await this.sink(h);
  }

  /**
   * One datagram carrying `payload`, dated utcNs, from `from` to `to` (each defaults to the
   * writer's placeholder). `what` names the event in an error.
   */
  async writeDatagram(payload: Uint8Array, utcNs: bigint, what: string, from?: UdpAddress, to?: UdpAddress): Promise<void> {
    await this.sink(this.encode(payload, utcNs, what, from, to));
  }

  encode(payload: Uint8Array, utcNs: bigint, what: string, from?: UdpAddress, to?: UdpAddress): Buffer {
    const srcBytes = from === undefined ? this.src : this.bytesOf(from.address);
    const dstBytes = to === undefined ? this.dst : this.bytesOf(to.address);
    const srcPort = from === undefined ? this.srcEndpoint.port : from.port;
    const dstPort = to === undefined ? this.dstEndpoint.port : to.port;
    if (srcBytes.length !== dstBytes.length) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what}: source and destination are different IP families`);
    }
    const family = srcBytes.length === 4 ? 4 : 6;
    const maxPayload = family === 4 ? MAX_UDP_PAYLOAD_IPV4 : MAX_UDP_PAYLOAD_IPV6;
    if (payload.length > maxPayload) {
      throw new VcrError(
        ErrorCode.EVENT_TOO_LARGE,
        `${what}: ${payload.length} bytes do not fit one UDP datagram over IPv${family} (at most ${maxPayload}); pcap export does not fragment`,
      );
    }
    const sec = utcNs / 1_000_000_000n;
    if (utcNs < 0n || sec > 0xffffffffn) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what}: time ${utcNs} ns cannot be stored in a pcap record`);
    const ipHeader = family === 4 ? 20 : 40;
    const udpLength = 8 + payload.length;
    const frameLength = 14 + ipHeader + udpLength;
    const out = Buffer.allocUnsafe(16 + frameLength);
    out.writeUInt32LE(Number(sec), 0);
    out.writeUInt32LE(Number(utcNs % 1_000_000_000n), 4);
    out.writeUInt32LE(frameLength, 8);
    out.writeUInt32LE(frameLength, 12);
    let o = 16;
    DST_MAC.copy(out, o);
    SRC_MAC.copy(out, o + 6);
    out.writeUInt16BE(family === 4 ? 0x0800 : 0x86dd, o + 12);
    o += 14;
    const ip = o;
    if (family === 4) {
      out[ip] = 0x45;
      out[ip + 1] = 0;
      out.writeUInt16BE(20 + udpLength, ip + 2);
      out.writeUInt16BE(this.ipId, ip + 4);
      this.ipId = (this.ipId + 1) & 0xffff;
      out.writeUInt16BE(0x4000, ip + 6); // don't fragment
      out[ip + 8] = 64;
      out[ip + 9] = 17;
      out.writeUInt16BE(0, ip + 10);
      srcBytes.copy(out, ip + 12);
      dstBytes.copy(out, ip + 16);
      out.writeUInt16BE(~fold(sum16(out, ip, 20, 0)) & 0xffff, ip + 10);
    } else {
      out.writeUInt32BE(0x60000000, ip);
      out.writeUInt16BE(udpLength, ip + 4);
      out[ip + 6] = 17;
      out[ip + 7] = 64;
      srcBytes.copy(out, ip + 8);
      dstBytes.copy(out, ip + 24);
    }
    const u = ip + ipHeader;
    out.writeUInt16BE(srcPort, u);
    out.writeUInt16BE(dstPort, u + 2);
    out.writeUInt16BE(udpLength, u + 4);
    out.writeUInt16BE(0, u + 6);
    out.set(payload, u + 8);
    // pseudo-header: addresses, protocol, UDP length; then the UDP header and payload
    let acc = sum16(srcBytes, 0, srcBytes.length, 0);
    acc = sum16(dstBytes, 0, dstBytes.length, acc);
    acc += 17 + udpLength;
    acc = sum16(out, u, udpLength, acc);
    let ck = ~fold(acc) & 0xffff;
    if (ck === 0) ck = 0xffff; // 0 means "no checksum" in UDP
    out.writeUInt16BE(ck, u + 6);
    this.packets++;
    this.bytes += out.length;
    return out;
  }
}

/** Checks a UDP/IP checksum field the way a receiver does (the sum over the covered bytes folds to 0xffff). */
export function checksumOk(buf: Uint8Array, off: number, len: number, pseudo = 0): boolean {
  return fold(sum16(buf, off, len, pseudo)) === 0xffff;
}
