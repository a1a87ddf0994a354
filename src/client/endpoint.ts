/** `HOST:PORT` endpoints as the CLI and the client library accept them (IPv4 or a host name). */
import { ErrorCode, VcrError } from '../util/errors.js';

export interface Endpoint {
  host: string;
  port: number;
}

export function parseEndpoint(spec: string, what = 'endpoint'): Endpoint {
  const m = /^([A-Za-z0-9.\-_]+):(\d{1,5})$/.exec(spec ?? '');
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} '${spec}' is not HOST:PORT (e.g. 127.0.0.1:8010, port 1-65535)`);
  }
  return { host: m[1]!, port };
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
