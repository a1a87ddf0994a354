/**
 * `HOST:PORT` endpoints as the CLI and the client library accept them: the one endpoint parser
 * (src/util/endpoint.ts) with its rules, an IP address or `localhost` (taken as 127.0.0.1),
 * host names refused with a message saying so, port 1-65535.
 */
import { parseEndpoint as parseAnyEndpoint } from '../util/endpoint.js';

export interface Endpoint {
  host: string;
  port: number;
}

export function parseEndpoint(spec: string, what = 'endpoint'): Endpoint {
  const e = parseAnyEndpoint(spec, { schemes: ['none'], what });
  return { host: e.host, port: e.port };
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
