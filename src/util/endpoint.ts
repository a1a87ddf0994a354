/**
 * The one endpoint parser: `udp://HOST:PORT[?k=v&...]`, `tcp://HOST:PORT` and bare `HOST:PORT`,
 * used by sources, replay and notification destinations, response channels, the control
 * endpoint, the CLI's `--archiver`, the client library and the cluster file. One set of rules:
 *
 * - HOST is an IPv4 literal, an IPv6 literal in brackets (`[::1]:9000`), or `localhost`
 *   (taken as 127.0.0.1). Other host names are refused with a message saying so: resolving
 *   names would make a recording's source depend on DNS at the moment it starts, and the
 *   archiver's hot paths (native sendmmsg/recvmmsg) take addresses, not names.
 * - PORT is 1..65535, or 0 where the caller allows it (bind to any free port).
 * - Query parameters are only accepted where the caller lists them, with their values checked
 *   by the caller; the parser only splits them.
 *
 * Messages quote at most 200 characters of the offending text, so a huge argument does not
 * flood logs or terminals.
 */
import { isIP } from 'node:net';
import { ErrorCode, VcrError } from './errors.js';

export type EndpointScheme = 'udp' | 'tcp' | 'none';

export interface ParsedEndpoint {
  /** 'none' for a bare HOST:PORT */
  scheme: EndpointScheme;
  /** the address literal (never a name; `localhost` is given as 127.0.0.1), IPv6 without brackets */
  host: string;
  port: number;
  family: 4 | 6;
  /** IPv4 224.0.0.0/4 or IPv6 ff00::/8 */
  multicast: boolean;
  /** query parameters in order of appearance (only those the caller allowed) */
  params: Map<string, string>;
}

export interface EndpointRules {
  /** schemes accepted; a bare HOST:PORT is 'none' */
  schemes: readonly EndpointScheme[];
  /** what the endpoint is, for messages ("destination", "control endpoint") */
  what?: string;
  /** port 0 (any free port) is accepted */
  allowPortZero?: boolean;
  /** query parameter names accepted (none by default) */
  params?: readonly string[];
  /** error code for a refusal (INVALID_ARGUMENT by default) */
  code?: (typeof ErrorCode)[keyof typeof ErrorCode];
}

/** Shortens text quoted in an error message. */
export function quoteForMessage(text: string, max = 200): string {
  const s = String(text);
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s) + (s.length > max ? ` (${s.length} characters)` : '');
}

const SCHEMED = /^([a-z]+):\/\/(\[[^\]]*\]|[^:/?#[\]\s]*)(?::([^/?#\s]*))?\/?(?:\?([^#\s]*))?$/i;
const BARE = /^(\[[^\]]*\]|[^:/?#[\]\s]*):([^/?#\s]*)$/;

export function parseEndpoint(text: string, rules: EndpointRules): ParsedEndpoint {
  const what = rules.what ?? 'endpoint';
  const code = rules.code ?? ErrorCode.INVALID_ARGUMENT;
  const fail = (why: string): never => {
    throw new VcrError(code, `${what} ${quoteForMessage(text)}: ${why}`);
  };
  if (typeof text !== 'string' || text.length === 0) fail('is empty');
  const expected = rules.schemes.map((s) => (s === 'none' ? 'HOST:PORT' : `${s}://HOST:PORT`)).join(' or ');
  let scheme: EndpointScheme;
  let hostText: string;
  let portText: string | undefined;
  let query: string | undefined;
  const m = SCHEMED.exec(text);
  if (m) {
    const s = m[1]!.toLowerCase();
    if (s !== 'udp' && s !== 'tcp') return fail(`unknown scheme '${s}' (expected ${expected})`);
    scheme = s;
    hostText = m[2]!;
    portText = m[3];
    query = m[4];
  } else {
    const b = BARE.exec(text);
    if (!b) return fail(`expected ${expected}`);
    scheme = 'none';
    hostText = b[1]!;
    portText = b[2];
  }
  if (!rules.schemes.includes(scheme)) return fail(`expected ${expected}`);
  if (hostText === '') return fail('missing host');
  let host = hostText;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return fail(`'${host}' is not an IPv6 address`);
  } else if (host.toLowerCase() === 'localhost') {
    host = '127.0.0.1';
  } else if (isIP(host) === 0) {
    if (/^[0-9.]+$/.test(host)) return fail(`'${host}' is not a valid IPv4 address`);
    return fail(`host names are not supported ('${host.slice(0, 100)}'); give an IP address (or localhost)`);
  } else if (isIP(host) === 6) {
    return fail(`an IPv6 address must be in brackets, e.g. [${host}]:PORT`);
  }
  if (portText === undefined || portText === '') return fail('missing port');
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return fail(`port '${portText.slice(0, 20)}' is not a number from 0 to 65535`);
  const port = Number(portText);
  if (port === 0 && !rules.allowPortZero) return fail('port 0 is not allowed here (1 to 65535)');
  const params = new Map<string, string>();
  if (query) {
    for (const kv of query.split('&')) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      const k = eq < 0 ? kv : kv.slice(0, eq);
      const v = eq < 0 ? '' : kv.slice(eq + 1);
      if (!(rules.params ?? []).includes(k)) return fail(`unknown parameter '${k.slice(0, 50)}'`);
      if (params.has(k)) return fail(`parameter '${k}' is given twice`);
      params.set(k, v);
    }
  }
  const family = isIP(host) as 4 | 6;
  return { scheme, host, port, family, multicast: isMulticast(host), params };
}

export function isMulticast(host: string): boolean {
  const fam = isIP(host);
  if (fam === 4) {
    const first = Number(host.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  if (fam === 6) return /^ff/i.test(host);
  return false;
}

/** `HOST:PORT` (IPv6 in brackets), the inverse of parseEndpoint for scheme 'none'. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
