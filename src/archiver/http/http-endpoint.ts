/**
 * Where the archiver's HTTP server listens (docs/ARCHIVER.md "HTTP: console and metrics"):
 *
 * - `http: "HOST:PORT"` as given (a port in use is ADDRESS_IN_USE); `http: null` none;
 * - `metricsPort: N` (the older key) is 127.0.0.1:N;
 * - neither: on by default, on the control endpoint's host at the control port + 1 (so
 *   `npm start`, control 127.0.0.1:8010, serves http://127.0.0.1:8011/), and on any free port
 *   when the control port is 0. This default is a convenience, not a promise: when that port
 *   is taken (another archiver's), a free port is used instead and the log says which.
 */
import { parseHostPort, type ArchiverConfig } from '../archiver-config.js';

export interface HttpEndpoint {
  host: string;
  port: number;
  /** The port was derived, not configured: when it is taken, any free port will do. */
  derived: boolean;
}

export function httpEndpoint(config: Pick<ArchiverConfig, 'http' | 'metricsPort' | 'control'>): HttpEndpoint | undefined {
  if (config.http === null) return undefined;
  if (config.http !== undefined) {
    const [host, port] = parseHostPort(config.http, 'http');
    return { host, port, derived: false };
  }
  if (config.metricsPort !== undefined) return { host: '127.0.0.1', port: config.metricsPort, derived: false };
  const [host, port] = parseHostPort(config.control);
  return { host, port: port === 0 || port === 65535 ? 0 : port + 1, derived: port !== 0 };
}
