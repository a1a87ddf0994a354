/**
 * Parsing and checking of command-line values shared by the commands. Everything here turns
 * bad input into a UsageError (exit 2) whose message names the flag and what it expects.
 */
import { Option, type Command } from 'commander';
import { parseTime } from '../util/time.js';
import { parseSeparator } from '../util/separator.js';
import { isIP } from 'node:net';
import { parseSourceUri as parseSource } from '../sources/uri.js';
import { parseEndpoint, quoteForMessage } from '../util/endpoint.js';
import { UsageError } from './errors.js';

export const DEFAULT_ARCHIVER = '127.0.0.1:8010';

export function addArchiverOption(cmd: Command): Command {
  return cmd.addOption(new Option('--archiver <host:port>', 'control endpoint of the archiver').default(DEFAULT_ARCHIVER));
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print JSON Lines (one object per line)');
}

/** commander accumulator for repeatable options */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function usage(flag: string, err: unknown): UsageError {
  const why = err instanceof Error ? err.message : String(err);
  return new UsageError(`${flag}: ${why}`);
}

export function checkArchiver(spec: string): string {
  try {
    parseEndpoint(spec, { schemes: ['none'], what: 'archiver' });
  } catch (err) {
    throw usage('--archiver', err);
  }
  return spec;
}

export function nowUtcNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function parseTimeArg(flag: string, value: string, now: bigint = nowUtcNs()): bigint {
  try {
    return parseTime(value, now);
  } catch (err) {
    throw usage(flag, err);
  }
}

export function parseSeparatorArg(flag: string, value: string): Buffer {
  try {
    return parseSeparator(value);
  } catch (err) {
    throw usage(flag, err);
  }
}

export function parseCount(flag: string, value: string): number {
  if (!/^\d+$/.test(value ?? '') || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag}: '${value}' is not a non-negative integer`);
  }
  return Number(value);
}

export function parseSpeed(value: string): number {
  const v = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw new UsageError(`--speed: '${value}' is not a number >= 0 (1 = real time, 10 = ten times faster, 0 = as fast as possible)`);
  }
  return v;
}

/** `udp://HOST:PORT[?interface=ADDR&ttl=N]` (src/util/endpoint.ts rules), returned unchanged when valid. */
export function parseUdpUri(flag: string, value: string): string {
  let ep: ReturnType<typeof parseEndpoint>;
  try {
    ep = parseEndpoint(value, { schemes: ['udp'], what: 'destination', params: ['interface', 'ttl'] });
  } catch (err) {
    throw usage(flag, err);
  }
  const iface = ep.params.get('interface');
  if (iface !== undefined && isIP(iface) === 0) throw new UsageError(`${flag}: interface ${quoteForMessage(iface)} is not an IP address`);
  const ttl = ep.params.get('ttl');
  if (ttl !== undefined && !(/^\d{1,3}$/.test(ttl) && Number(ttl) <= 255)) throw new UsageError(`${flag}: ttl ${quoteForMessage(ttl)} is not a number from 0 to 255`);
  return value;
}

/** Source URIs of SPEC §2 Record, checked by the sources' own parser (src/sources/uri.ts). */
export function parseSourceUri(value: string): string {
  try {
    parseSource(value);
  } catch (err) {
    throw usage('--source', err);
  }
  return value;
}

/** `NAME=udp://HOST:PORT` of --map */
export function parseMapEntry(value: string): { channel: string; destination: string } {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`--map: '${value}' is not NAME=udp://HOST:PORT`);
  return { channel: value.slice(0, eq), destination: parseUdpUri('--map', value.slice(eq + 1)) };
}

export function parseRecordingId(flag: string, value: string): number {
  return parseCount(flag, value);
}
