/**
 * Which datagrams of a capture are imported: a small, explicit subset of tcpdump's filter
 * language, not BPF. Terms joined by `and`:
 *   udp | ip | ip6 | [src|dst] port N | [src|dst] host ADDR
 * `udp` is implied (only UDP is imported); `port N` / `host A` match either side. Each term at
 * most once. Anything else (or, not, parentheses, net, portrange, ...) is refused with a
 * message naming the word. The same filter travels in a `pcap://` source URI as parameters
 * (port, srcPort, dstPort, host, srcHost, dstHost, ip=4|6).
 */
import { isIP } from 'node:net';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { UdpView } from './packet-decoder.js';

export interface CaptureFilter {
  ip?: 4 | 6;
  port?: number;
  srcPort?: number;
  dstPort?: number;
  host?: string;
  srcHost?: string;
  dstHost?: string;
}

export const FILTER_PARAMS = ['ip', 'port', 'srcPort', 'dstPort', 'host', 'srcHost', 'dstHost'] as const;
type FilterKey = (typeof FILTER_PARAMS)[number];

function bad(why: string): VcrError {
  return new VcrError(ErrorCode.INVALID_ARGUMENT, why);
}

export function parsePort(what: string, s: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw bad(`${what}: '${s.slice(0, 40)}' is not a port number (0-65535)`);
  return Number(s);
}

export function parseHost(what: string, s: string): string {
  if (isIP(s) === 0) throw bad(`${what}: '${s.slice(0, 60)}' is not an IP address (host names are not resolved)`);
  return s;
}

/** Parses a filter expression of the subset above. Throws VcrError INVALID_ARGUMENT. */
export function parseFilterExpression(expr: string): CaptureFilter {
  const words = expr.trim().split(/\s+/).filter((w) => w !== '');
  const f: CaptureFilter = {};
  const set = <K extends FilterKey>(key: K, value: CaptureFilter[K], term: string): void => {
    if (f[key] !== undefined) throw bad(`filter: '${term}' given twice (only 'and' of distinct terms is supported)`);
    f[key] = value;
  };
  let i = 0;
  const expectTerm = (): void => {
    const w = words[i++]?.toLowerCase();
    if (w === undefined) throw bad('filter: expression ends where a term is expected');
    if (w === 'udp') return;
    if (w === 'ip' || w === 'ip6') return set('ip', w === 'ip' ? 4 : 6, w);
    let dir: 'src' | 'dst' | undefined;
    let kind = w;
    if (w === 'src' || w === 'dst') {
      dir = w;
      kind = words[i++]?.toLowerCase() ?? '';
    }
    const value = words[i++];
    if (kind === 'port') {
      if (value === undefined) throw bad(`filter: '${dir ? dir + ' ' : ''}port' needs a number`);
      const p = parsePort('filter', value);
      return set(dir === 'src' ? 'srcPort' : dir === 'dst' ? 'dstPort' : 'port', p, `${dir ? dir + ' ' : ''}port`);
    }
    if (kind === 'host') {
      if (value === undefined) throw bad(`filter: '${dir ? dir + ' ' : ''}host' needs an address`);
      const h = parseHost('filter', value);
      return set(dir === 'src' ? 'srcHost' : dir === 'dst' ? 'dstHost' : 'host', h, `${dir ? dir + ' ' : ''}host`);
    }
    throw bad(
      `filter: '${(kind || w).slice(0, 40)}' is not supported; use terms 'udp', 'ip', 'ip6', '[src|dst] port N', '[src|dst] host ADDR' joined by 'and'`,
    );
  };
  expectTerm();
  while (i < words.length) {
    const w = words[i++]!.toLowerCase();
    if (w !== 'and' && w !== '&&') throw bad(`filter: '${w.slice(0, 40)}' is not supported here; terms are joined by 'and' only`);
    expectTerm();
  }
  return f;
}

/** The filter as `pcap://` URI parameters, in a fixed order. */
export function filterToParams(f: CaptureFilter): [string, string][] {
  const out: [string, string][] = [];
  for (const k of FILTER_PARAMS) if (f[k] !== undefined) out.push([k, String(f[k])]);
  return out;
}

/** Reads the filter from URI parameters (already percent-decoded). Throws VcrError INVALID_ARGUMENT. */
export function filterFromParams(get: (name: string) => string | undefined): CaptureFilter {
  const f: CaptureFilter = {};
  const ip = get('ip');
  if (ip !== undefined) {
    if (ip !== '4' && ip !== '6') throw bad(`ip must be 4 or 6, not '${ip.slice(0, 20)}'`);
    f.ip = ip === '4' ? 4 : 6;
  }
  for (const k of ['port', 'srcPort', 'dstPort'] as const) {
    const v = get(k);
    if (v !== undefined) f[k] = parsePort(k, v);
  }
  for (const k of ['host', 'srcHost', 'dstHost'] as const) {
    const v = get(k);
    if (v !== undefined) f[k] = parseHost(k, v);
  }
  return f;
}

/** IPv4 or IPv6 text to its 4 or 16 bytes (the text was checked with isIP). */
export function addressBytes(s: string): Buffer {
  if (isIP(s) === 4) return Buffer.from(s.split('.').map(Number));
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // an embedded IPv4 address (::ffff:1.2.3.4) is the last two 16-bit groups
    const v4 = last.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const groupsOf = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const halves = text.split('::');
  const head = groupsOf(halves[0]!);
  const rest = halves.length > 1 ? groupsOf(halves[1]!) : [];
  const groups = [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export type DatagramMatcher = (buf: Buffer, v: UdpView) => boolean;

/** A matcher for the filter's terms; all must hold. */
export function compileFilter(f: CaptureFilter): DatagramMatcher {
  const host = f.host !== undefined ? addressBytes(f.host) : undefined;
  const src = f.srcHost !== undefined ? addressBytes(f.srcHost) : undefined;
  const dst = f.dstHost !== undefined ? addressBytes(f.dstHost) : undefined;
  const same = (buf: Buffer, at: number, family: 4 | 6, a: Buffer): boolean => {
    if (a.length !== (family === 4 ? 4 : 16)) return false;
    for (let i = 0; i < a.length; i++) if (buf[at + i] !== a[i]) return false;
    return true;
  };
  return (buf, v) => {
    if (f.ip !== undefined && v.family !== f.ip) return false;
    if (f.port !== undefined && v.srcPort !== f.port && v.dstPort !== f.port) return false;
    if (f.srcPort !== undefined && v.srcPort !== f.srcPort) return false;
    if (f.dstPort !== undefined && v.dstPort !== f.dstPort) return false;
    if (host && !same(buf, v.srcAddrOffset, v.family, host) && !same(buf, v.dstAddrOffset, v.family, host)) return false;
    if (src && !same(buf, v.srcAddrOffset, v.family, src)) return false;
    if (dst && !same(buf, v.dstAddrOffset, v.family, dst)) return false;
    return true;
  };
}
