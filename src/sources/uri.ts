/**
 * Source URIs (SPEC §2 Record):
 *   udp://HOST:PORT                       unicast bind (PORT 0 = any free port; HOST and PORT as
 *                                         src/util/endpoint.ts parses them)
 *   udp://GROUP:PORT?interface=ADDR       multicast join, any-source (GROUP in 224.0.0.0/4 or ff00::/8)
 *   file:///PATH?separator=SEP[&follow=true][&maxEventSize=N]
 *   stdin:?separator=SEP[&maxEventSize=N]
 *   pcap:///PATH[?port=N&srcPort=N&dstPort=N&host=A&srcHost=A&dstHost=A&ip=4|6][&speed=X]
 *                                         the UDP datagrams of a pcap/pcapng capture, dated with
 *                                         the capture's times (src/pcap, docs/ARCHIVER.md)
 * SEP is percent-encoded bytes (default %0A). Anything malformed is a VcrError INVALID_SOURCE
 * whose message names the problem.
 */
import { isIP } from 'node:net';
import { formatHostPort, isMulticast, parseEndpoint, quoteForMessage } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { DEFAULT_SEPARATOR, formatSeparator, parseSeparator } from '../util/separator.js';
import { FILTER_PARAMS, filterFromParams, filterToParams, type CaptureFilter } from '../pcap/capture-filter.js';

export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024;
/** Hard ceiling for maxEventSize (a single event must fit comfortably in memory). */
export const MAX_MAX_EVENT_SIZE = 256 * 1024 * 1024;

export interface UdpSourceSpec {
  readonly kind: 'udp';
  readonly uri: string;
  /** Address to bind (unicast) or the multicast group. */
  readonly host: string;
  readonly port: number;
  readonly multicast: boolean;
  /** Multicast: local interface address to join on (undefined = let the OS choose). */
  readonly interface: string | undefined;
  readonly family: 4 | 6;
}

export interface FileSourceSpec {
  readonly kind: 'file';
  readonly uri: string;
  readonly path: string;
  readonly separator: Buffer;
  readonly follow: boolean;
  readonly maxEventSize: number;
}

export interface StdinSourceSpec {
  readonly kind: 'stdin';
  readonly uri: string;
  readonly separator: Buffer;
  readonly maxEventSize: number;
}

export interface PcapSourceSpec {
  readonly kind: 'pcap';
  readonly uri: string;
  readonly path: string;
  readonly filter: CaptureFilter;
  /** 0: as fast as possible; X > 0: datagrams enter the archive at X times the capture's pace. */
  readonly speed: number;
}

export type SourceSpec = UdpSourceSpec | FileSourceSpec | StdinSourceSpec | PcapSourceSpec;

function invalid(uri: string, why: string): VcrError {
  return new VcrError(ErrorCode.INVALID_SOURCE, `invalid source ${quoteForMessage(uri)}: ${why}`);
}

/** Raw (still percent-encoded) query parameters; duplicates and empty names are errors. */
function parseQuery(uri: string, query: string | undefined, allowed: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  if (query === undefined || query === '') return params;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (!allowed.includes(name)) {
      throw invalid(uri, `unknown parameter '${name}' (allowed: ${allowed.length ? allowed.join(', ') : 'none'})`);
    }
    if (params.has(name)) throw invalid(uri, `parameter '${name}' given twice`);
    params.set(name, value);
  }
  return params;
}

function decode(uri: string, what: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalid(uri, `${what} has a bad percent-encoding`);
  }
}

function separatorParam(uri: string, params: Map<string, string>): Buffer {
  const raw = params.get('separator') ?? DEFAULT_SEPARATOR;
  try {
    return parseSeparator(raw);
  } catch (e) {
    throw invalid(uri, `separator: ${(e as Error).message}`);
  }
}

function maxEventSizeParam(uri: string, params: Map<string, string>): number {
  const raw = params.get('maxEventSize');
  if (raw === undefined) return DEFAULT_MAX_EVENT_SIZE;
  if (!/^[0-9]{1,10}$/.test(raw)) throw invalid(uri, `maxEventSize '${raw}' is not a whole number of bytes`);
  const n = Number(raw);
  if (n < 1 || n > MAX_MAX_EVENT_SIZE) throw invalid(uri, `maxEventSize must be between 1 and ${MAX_MAX_EVENT_SIZE}`);
  return n;
}

function boolParam(uri: string, params: Map<string, string>, name: string): boolean {
  const raw = params.get(name);
  if (raw === undefined) return false;
  if (raw === 'true' || raw === '1' || raw === '') return true;
  if (raw === 'false' || raw === '0') return false;
  throw invalid(uri, `${name} must be true or false, not '${raw}'`);
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8 (the endpoint parser's rule). */
export const isMulticastAddress = isMulticast;

function parseUdp(uri: string): UdpSourceSpec {
  // HOST and PORT by the one endpoint parser (src/util/endpoint.ts): IP literals, IPv6 in
  // brackets, localhost as 127.0.0.1, other host names refused, port 0 = any free port
  const ep = parseEndpoint(uri, { schemes: ['udp'], what: 'source', allowPortZero: true, params: ['interface'], code: ErrorCode.INVALID_SOURCE });
  const { host, port, multicast } = ep;
  let iface: string | undefined;
  if (ep.params.has('interface')) {
    if (!multicast) throw invalid(uri, "'interface' is only for a multicast group (224.0.0.0/4, ff00::/8)");
    iface = decode(uri, 'interface', ep.params.get('interface')!);
    if (iface.startsWith('[') && iface.endsWith(']')) iface = iface.slice(1, -1);
    if (isIP(iface) === 0) throw invalid(uri, `interface '${iface.slice(0, 100)}' is not an IP address`);
    if (isIP(iface) !== ep.family) throw invalid(uri, `interface '${iface}' and group '${host}' are different IP families`);
  }
  if (multicast && port === 0) throw invalid(uri, 'a multicast source needs an explicit port');
  const spec = { kind: 'udp' as const, host, port, multicast, interface: iface, family: ep.family };
  return { ...spec, uri: formatUdpSourceUri(spec, port) };
}

/** The canonical URI of a UDP source, with `port` (e.g. the port bound for port 0). */
export function formatUdpSourceUri(spec: Pick<UdpSourceSpec, 'host' | 'interface'>, port: number): string {
  return `udp://${formatHostPort(spec.host, port)}${spec.interface !== undefined ? `?interface=${spec.interface}` : ''}`;
}

function parseFile(uri: string): FileSourceSpec {
  const m = /^file:\/\/(?:localhost)?(\/[^?#]*)(?:\?([^#]*))?$/i.exec(uri);
  if (!m) throw invalid(uri, 'expected file:///ABSOLUTE/PATH?separator=SEP[&follow=true]');
  const path = decode(uri, 'path', m[1]!);
  if (path === '/' || path.endsWith('/')) throw invalid(uri, 'path names a directory, not a file');
  if (path.includes('\0')) throw invalid(uri, 'path contains a NUL byte');
  const params = parseQuery(uri, m[2], ['separator', 'follow', 'maxEventSize']);
  const separator = separatorParam(uri, params);
  const follow = boolParam(uri, params, 'follow');
  const maxEventSize = maxEventSizeParam(uri, params);
  const canonical =
    `file://${encodeURI(path)}?separator=${formatSeparator(separator)}` +
    (follow ? '&follow=true' : '') +
    (maxEventSize !== DEFAULT_MAX_EVENT_SIZE ? `&maxEventSize=${maxEventSize}` : '');
  return { kind: 'file', uri: canonical, path, separator, follow, maxEventSize };
}

function parseStdin(uri: string): StdinSourceSpec {
  const m = /^stdin:(?:\/\/)?(?:\?([^#]*))?$/i.exec(uri);
  if (!m) throw invalid(uri, 'expected stdin:?separator=SEP');
  const params = parseQuery(uri, m[1], ['separator', 'maxEventSize']);
  const separator = separatorParam(uri, params);
  const maxEventSize = maxEventSizeParam(uri, params);
  const canonical =
    `stdin:?separator=${formatSeparator(separator)}` + (maxEventSize !== DEFAULT_MAX_EVENT_SIZE ? `&maxEventSize=${maxEventSize}` : '');
  return { kind: 'stdin', uri: canonical, separator, maxEventSize };
}

function parsePcap(uri: string): PcapSourceSpec {
  const m = /^pcap:\/\/(?:localhost)?(\/[^?#]*)(?:\?([^#]*))?$/i.exec(uri);
  if (!m) throw invalid(uri, 'expected pcap:///ABSOLUTE/PATH[?port=N][&speed=X]');
  const path = decode(uri, 'path', m[1]!);
  if (path === '/' || path.endsWith('/')) throw invalid(uri, 'path names a directory, not a file');
  if (path.includes('\0')) throw invalid(uri, 'path contains a NUL byte');
  const params = parseQuery(uri, m[2], [...FILTER_PARAMS, 'speed']);
  let filter: CaptureFilter;
  try {
    filter = filterFromParams((name) => (params.has(name) ? decode(uri, name, params.get(name)!) : undefined));
  } catch (e) {
    throw invalid(uri, (e as Error).message);
  }
  let speed = 0;
  const rawSpeed = params.get('speed');
  if (rawSpeed !== undefined) {
    speed = Number(rawSpeed);
    if (rawSpeed.trim() === '' || !Number.isFinite(speed) || speed < 0 || speed > 1e6) throw invalid(uri, `speed '${rawSpeed.slice(0, 20)}' is not a number from 0 to 1e6`);
  }
  const query = [...filterToParams(filter).map(([k, v]) => `${k}=${encodeURIComponent(v)}`), ...(speed > 0 ? [`speed=${speed}`] : [])];
  const canonical = `pcap://${encodeURI(path)}${query.length ? `?${query.join('&')}` : ''}`;
  return { kind: 'pcap', uri: canonical, path, filter, speed };
}

/** Parse a source URI. Throws VcrError INVALID_SOURCE. */
export function parseSourceUri(uri: string): SourceSpec {
  if (typeof uri !== 'string' || uri.trim() === '') throw invalid(String(uri), 'empty source URI');
  if (uri !== uri.trim()) throw invalid(uri, 'leading or trailing white space');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'udp':
      return parseUdp(uri);
    case 'file':
      return parseFile(uri);
    case 'stdin':
      return parseStdin(uri);
    case 'pcap':
      return parsePcap(uri);
    case undefined:
      throw invalid(uri, 'missing scheme (udp://, file://, stdin:, pcap://)');
    default:
      throw invalid(uri, `unsupported scheme '${scheme}:' (use udp://, file://, stdin: or pcap://)`);
  }
}
