/**
 * `HOST:PORT` endpoints as the CLI and the client library accept them: the one endpoint parser
 * (src/util/endpoint.ts) with its rules, an IP address or `localhost` (taken as 127.0.0.1),
 * host names refused with a message saying so, port 1-65535.
 */
import { parseEndpoint as parseAnyEndpoint, quoteForMessage } from '../util/endpoint.js';
import { VcrError, isVcrError } from '../util/errors.js';

export interface Endpoint {
  host: string;
  port: number;
}

export function parseEndpoint(spec: string, what = 'endpoint'): Endpoint {
  try {
    const e = parseAnyEndpoint(spec, { schemes: ['none'], what });
    return { host: e.host, port: e.port };
  } catch (err) {
    if (!isVcrError(err)) throw err;
    // the parser's reason, after its "<what> <quoted spec>: " prefix
    const prefix = `${what} ${quoteForMessage(spec)}: `;
    const reason = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    const shown = String(spec).length > 100 ? `${String(spec).slice(0, 100)}... (${String(spec).length} characters)` : String(spec);
    throw new VcrError(err.code, `${what} '${shown}' is not HOST:PORT (e.g. 127.0.0.1:8010, port 1-65535): ${reason}`);
  }
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
