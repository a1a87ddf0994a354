/**
 * The compact encoding of a datagram's source address and port, shared by every layer that
 * carries it: the archive's frames (a trailer after the payload, docs/FORMAT.md "Source
 * address"), the sources that fill it (UDP, pcap import), the streamed replay (codecs/stream.xml)
 * and the client that decodes it. IPv4: 4 address bytes (network order) then the port as
 * uint16 little endian, 6 bytes; IPv6: 16 address bytes then the port, 18 bytes. Which one a
 * frame carries is said by its flags (SOURCE_IPV4 / SOURCE_IPV6, the storage FrameFlags bits
 * sourceIpv4 / sourceIpv6: src/storage/layout.ts checks these numbers against the schema when it
 * loads). An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an
 * IPv4 sender) is stored as the IPv4 address it maps. An IPv6 scope id is not kept.
 *
 * Bottom layer: no imports from the rest of VCR, so the client library can use it.
 */
import { isIP } from 'node:net';

/** Frame flag: a 6-byte IPv4 source follows the payload. */
export const SOURCE_IPV4 = 2;
/** Frame flag: an 18-byte IPv6 source follows the payload. */
export const SOURCE_IPV6 = 4;
/** Both source flag bits. */
export const SOURCE_FLAGS = SOURCE_IPV4 | SOURCE_IPV6;
export const SOURCE_IPV4_LENGTH = 6;
export const SOURCE_IPV6_LENGTH = 18;
/** The longest encoded source. */
export const SOURCE_MAX_LENGTH = SOURCE_IPV6_LENGTH;

/** Where an event came from. */
export interface EventSource {
  /** IPv4 dotted quad or IPv6 text (RFC 5952 form). */
  address: string;
  port: number;
}

/** Bytes of the source trailer the flags announce: 0 (none), 6, 18, or -1 when both bits are set (invalid). */
export function sourceLength(flags: number): number {
  const s = flags & SOURCE_FLAGS;
  if (s === 0) return 0;
  if (s === SOURCE_IPV4) return SOURCE_IPV4_LENGTH;
  if (s === SOURCE_IPV6) return SOURCE_IPV6_LENGTH;
  return -1;
}

/** The source flag bit of an encoded source of `length` bytes (0 for any other length). */
export function sourceFlagOfLength(length: number): number {
  return length === SOURCE_IPV4_LENGTH ? SOURCE_IPV4 : length === SOURCE_IPV6_LENGTH ? SOURCE_IPV6 : 0;
}

/** The encoded source at buf[off..] (length 6 or 18) as address text and port; undefined for any other length. */
export function decodeSource(buf: Uint8Array, off: number, length: number): EventSource | undefined {
  const port = buf[off + length - 2]! | (buf[off + length - 1]! << 8);
  if (length === SOURCE_IPV4_LENGTH) return { address: `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`, port };
  if (length === SOURCE_IPV6_LENGTH) return { address: formatIpv6(buf, off), port };
  return undefined;
}

/** Address text of 4 (IPv4) or 16 (IPv6) address bytes at buf[off..]. */
export function decodeAddress(buf: Uint8Array, off: number, addrLength: 4 | 16): string {
  return addrLength === 4 ? `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}` : formatIpv6(buf, off);
}

/** The source a frame's flags announce, read from right after its payload (undefined: none recorded). */
export function frameSource(buf: Uint8Array, payloadOffset: number, payloadLength: number, flags: number): EventSource | undefined {
  const n = sourceLength(flags);
  return n > 0 ? decodeSource(buf, payloadOffset + payloadLength, n) : undefined;
}

/**
 * Encodes `address` (IPv4 or IPv6 text; an IPv4-mapped IPv6 address becomes IPv4) and `port`
 * into out[off..]; returns the flag bit (SOURCE_IPV4 or SOURCE_IPV6), or 0 when the address is
 * not an IP address or the port is out of range (nothing written). `out` needs 18 bytes of room.
 */
export function encodeSource(address: string, port: number, out: Uint8Array, off: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) return 0;
  const family = isIP(address);
  if (family === 4) {
    writeIpv4(address, out, off);
    return finish(out, off, SOURCE_IPV4_LENGTH, port, SOURCE_IPV4);
  }
  if (family !== 6) return 0;
  const bytes = ipv6Bytes(address);
  if (isIpv4Mapped(bytes, 0)) {
    out.set(bytes.subarray(12, 16), off);
    return finish(out, off, SOURCE_IPV4_LENGTH, port, SOURCE_IPV4);
  }
  out.set(bytes, off);
  return finish(out, off, SOURCE_IPV6_LENGTH, port, SOURCE_IPV6);
}

/** Encodes raw address bytes (4 or 16, network order) and a port; an IPv4-mapped IPv6 address becomes IPv4. Returns the flag bit. */
export function encodeSourceBytes(addr: Uint8Array, addrOff: number, addrLength: 4 | 16, port: number, out: Uint8Array, off: number): number {
  if (addrLength === 16 && !isIpv4Mapped(addr, addrOff)) {
    for (let i = 0; i < 16; i++) out[off + i] = addr[addrOff + i]!;
    return finish(out, off, SOURCE_IPV6_LENGTH, port, SOURCE_IPV6);
  }
  const from = addrLength === 16 ? addrOff + 12 : addrOff;
  for (let i = 0; i < 4; i++) out[off + i] = addr[from + i]!;
  return finish(out, off, SOURCE_IPV4_LENGTH, port, SOURCE_IPV4);
}

function finish(out: Uint8Array, off: number, length: number, port: number, flag: number): number {
  out[off + length - 2] = port & 0xff;
  out[off + length - 1] = port >>> 8;
  return flag;
}

function isIpv4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

function writeIpv4(address: string, out: Uint8Array, off: number): void {
  let part = 0;
  let value = 0;
  for (let i = 0; i < address.length; i++) {
    const ch = address.charCodeAt(i);
    if (ch === 46) {
      out[off + part++] = value;
      value = 0;
    } else value = value * 10 + (ch - 48);
  }
  out[off + part] = value;
}

/** The 16 bytes of an IPv6 address text (isIP(text) === 6; a zone "%eth0" is dropped). */
export function ipv6Bytes(text: string): Uint8Array {
  const zone = text.indexOf('%');
  let s = zone >= 0 ? text.slice(0, zone) : text;
  const out = new Uint8Array(16);
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // an embedded IPv4 address is the last two 16-bit groups
    const q = new Uint8Array(4);
    writeIpv4(s.slice(lastColon + 1), q, 0);
    s = `${s.slice(0, lastColon + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const halves = s.split('::');
  const head = groups(halves[0]!);
  const rest = halves.length > 1 ? groups(halves[1]!) : [];
  const all = [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest];
  for (let i = 0; i < 8; i++) {
    const g = all[i] ?? 0;
    out[i * 2] = g >>> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

/** RFC 5952 text of 16 address bytes: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2]! << 8) | b[off + i * 2 + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** "a.b.c.d:port" or "[v6]:port". */
export function formatSource(s: EventSource): string {
  return s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}
