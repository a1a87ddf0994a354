/**
 * Checks on the addresses the archiver is asked to send to (replay destinations, response
 * channels, notification destinations), made before anything starts:
 *
 * - never the archiver's own control endpoint: recorded payloads (or the archiver's own
 *   responses) would be fed into the control protocol, and an error answered to itself would
 *   loop. "Own" covers the bound address and, when the control socket is bound to a wildcard
 *   (0.0.0.0 / ::), every address of this host; 0.0.0.0 as a destination means this host too,
 *   and a loopback control endpoint is taken to answer on all of 127.0.0.0/8.
 * - a multicast interface must be an address of this host: a socket option with anything else
 *   fails, and a failure discovered only while sending would be lost (events counted as sent).
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ErrorCode, VcrError } from '../util/errors.js';
import { unmapIPv4 } from './address-allowlist.js';

export interface BoundAddress {
  host: string;
  port: number;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1';
}

/** Addresses of this host's interfaces (read when asked: interfaces come and go). */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

export function isLocalAddress(host: string): boolean {
  const h = unmapIPv4(host);
  return isLoopback(h) || isWildcard(h) || localAddresses().has(h);
}

/** Whether host:port reaches the control socket bound at `bound`. */
export function isOwnEndpoint(host: string, port: number, bound: BoundAddress | undefined): boolean {
  if (!bound || port !== bound.port) return false;
  const h = unmapIPv4(host);
  if (h === bound.host) return true;
  if (isWildcard(bound.host)) return isLocalAddress(h);
  if (isWildcard(h)) return isLocalAddress(bound.host);
  return isLoopback(h) && isLoopback(bound.host);
}

/** Refuses a destination that is the archiver's own control endpoint (INVALID_ARGUMENT). */
export function checkNotOwnEndpoint(what: string, host: string, port: number, bound: BoundAddress | undefined): void {
  if (isOwnEndpoint(host, port, bound)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} ${host}:${port} is this archiver's own control endpoint`);
  }
}

/** Refuses a multicast interface address that is not one of this host's (INVALID_ARGUMENT). */
export function checkMulticastInterface(what: string, iface: string): void {
  if (isIP(iface) === 0 || !localAddresses().has(iface)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} interface ${iface} is not an address of this host`);
  }
}
