/**
 * The archiver's configuration: defaults, the JSON config file, and command-line overrides.
 * Validation is strict (unknown keys are errors) and every error names the offending key, so
 * a typo in a config file fails at start-up instead of being silently ignored. Values that the
 * control protocol also carries are checked by the protocol's own rules: channel names, aliases
 * and sources by channel-rules.ts, endpoints by the one endpoint parser, allowlist entries by
 * address-allowlist.ts.
 */
import { readFileSync } from 'node:fs';
import { parseEndpoint } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { parseAllowEntry } from './address-allowlist.js';
import { parseArchiveConfig, type ArchiveTierConfig } from './archive-config.js';
import { checkChannelList } from './channel-rules.js';
import { parseRetentionConfig, type RetentionConfig } from './retention-config.js';
import { parseUdpEndpoint } from './udp-endpoint.js';

export interface ChannelConfig {
  channel: string;
  source: string;
  aliases: string[];
}

export interface ArchiverLimits {
  /** Recordings active at once. */
  maxRecordings: number;
  /** Replay sessions active at once. */
  maxReplays: number;
  /** Largest event accepted from file/stdin sources (bytes). */
  maxEventSize: number;
  /** Default keep-alive timeout of control sessions (ms) when the client asks for 0. */
  sessionTimeoutMs: number;
  /** Control sessions open at once. */
  maxSessions: number;
  /** Control sessions one client address may hold at once. */
  maxSessionsPerAddress: number;
  /** Longest keep-alive timeout a client may ask for (ms); longer asks are clamped to it. */
  maxKeepAliveMs: number;
}

export interface ArchiverConfig {
  dir: string;
  /** HOST:PORT of the control endpoint. */
  control: string;
  /** HOST:PORT of the stream endpoint (TCP, streamed replays); undefined: the control host, any free port. */
  stream: string | undefined;
  channels: ChannelConfig[];
  /** udp://HOST:PORT destinations that receive every notification. */
  notifications: string[];
  fileSyncLevel: 0 | 1 | 2;
  segmentLength: number | undefined;
  limits: ArchiverLimits;
  /** Client IP addresses or CIDR networks allowed to talk to the control endpoint; empty: everyone. */
  allowlist: string[];
  allowDestructive: boolean;
  /**
   * The HTTP server (console at /, API at /api/, Prometheus at /metrics) as HOST:PORT; null:
   * none; undefined: the default (src/archiver/http/http-endpoint.ts: the control host, the
   * control port + 1, or `metricsPort` when that is set).
   */
  http: string | null | undefined;
  /** Older spelling of the HTTP port (on 127.0.0.1), kept working: `"http": "127.0.0.1:PORT"`. */
  metricsPort: number | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  progressIntervalMs: number;
  /** Retention limits and schedule (retention-config.ts); undefined: nothing expires. */
  retention: RetentionConfig | undefined;
  /** The archive tier (archive-config.ts); undefined: segments stay in the archive directory. */
  archive?: ArchiveTierConfig | undefined;
}

export const DEFAULT_CONTROL = '127.0.0.1:8010';

export const DEFAULT_LIMITS: ArchiverLimits = {
  maxRecordings: 64,
  maxReplays: 64,
  maxEventSize: 1024 * 1024,
  sessionTimeoutMs: 10_000,
  maxSessions: 1024,
  maxSessionsPerAddress: 16,
  maxKeepAliveMs: 60_000,
};

export function defaultConfig(dir: string): ArchiverConfig {
  return {
    dir,
    control: DEFAULT_CONTROL,
    stream: undefined,
    channels: [],
    notifications: [],
    fileSyncLevel: 0,
    segmentLength: undefined,
    limits: { ...DEFAULT_LIMITS },
    allowlist: [],
    allowDestructive: true,
    http: undefined,
    metricsPort: undefined,
    logLevel: 'info',
    progressIntervalMs: 1000,
    retention: undefined,
  };
}

function bad(key: string, what: string): VcrError {
  return new VcrError(ErrorCode.INVALID_ARGUMENT, `config key '${key}': ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const shown = JSON.stringify(v) ?? String(v);
    throw bad(key, `must be an integer from ${min} to ${max}, got ${shown.length > 100 ? `${shown.slice(0, 100)}...` : shown}`);
  }
  return v;
}

function str(v: unknown, key: string, maxLength = 4096): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw bad(key, `must be a non-empty string of at most ${maxLength} characters`);
  }
  return v;
}

function strList(v: unknown, key: string): string[] {
  if (!Array.isArray(v)) throw bad(key, 'must be an array of strings');
  return v.map((s, i) => str(s, `${key}[${i}]`));
}

function noUnknownKeys(o: Record<string, unknown>, known: string[], prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw bad(prefix + k, `unknown key (known: ${known.join(', ')})`);
  }
}

/** Checks HOST:PORT (an IP address or localhost; port 0-65535); returns [host, port]. */
export function parseHostPort(value: string, key = 'control'): [string, number] {
  try {
    const e = parseEndpoint(value, { schemes: ['none'], what: 'endpoint', allowPortZero: true });
    return [e.host, e.port];
  } catch (err) {
    throw bad(key, (err as Error).message);
  }
}

const TOP_KEYS = [
  'control',
  'stream',
  'channels',
  'notifications',
  'fileSyncLevel',
  'segmentLength',
  'limits',
  'allowlist',
  'allowDestructive',
  'http',
  'metricsPort',
  'logLevel',
  'progressIntervalMs',
  'retention',
  'archive',
];
const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Applies a parsed config document onto base; throws VcrError(INVALID_ARGUMENT) naming the key. */
export function applyConfigDocument(base: ArchiverConfig, doc: unknown): ArchiverConfig {
  if (!isObject(doc)) throw bad('(root)', 'the config file must hold a JSON object');
  noUnknownKeys(doc, TOP_KEYS, '');
  const c: ArchiverConfig = { ...base, limits: { ...base.limits } };
  if (doc.control !== undefined) {
    c.control = str(doc.control, 'control');
    parseHostPort(c.control);
  }
  if (doc.stream !== undefined) {
    c.stream = str(doc.stream, 'stream');
    parseHostPort(c.stream, 'stream');
  }
  if (doc.channels !== undefined) {
    if (!Array.isArray(doc.channels)) throw bad('channels', 'must be an array of {channel, source, aliases}');
    c.channels = doc.channels.map((e, i) => {
      const k = `channels[${i}]`;
      if (!isObject(e)) throw bad(k, 'must be an object {channel, source, aliases}');
      noUnknownKeys(e, ['channel', 'source', 'aliases'], `${k}.`);
      return {
        channel: str(e.channel, `${k}.channel`, 256),
        source: str(e.source, `${k}.source`),
        aliases: e.aliases === undefined ? [] : strList(e.aliases, `${k}.aliases`),
      };
    });
    checkChannelList(c.channels, (i) => `channels[${i}]`);
  }
  if (doc.notifications !== undefined) {
    c.notifications = strList(doc.notifications, 'notifications');
    c.notifications.forEach((n, i) => {
      try {
        parseUdpEndpoint(n, 'notification destination');
      } catch (err) {
        throw bad(`notifications[${i}]`, (err as Error).message);
      }
    });
  }
  if (doc.fileSyncLevel !== undefined) c.fileSyncLevel = int(doc.fileSyncLevel, 'fileSyncLevel', 0, 2) as 0 | 1 | 2;
  if (doc.segmentLength !== undefined) {
    const s = int(doc.segmentLength, 'segmentLength', 65536, 1 << 30);
    if ((s & (s - 1)) !== 0) throw bad('segmentLength', 'must be a power of two');
    c.segmentLength = s;
  }
  if (doc.limits !== undefined) {
    if (!isObject(doc.limits)) throw bad('limits', 'must be an object');
    noUnknownKeys(doc.limits, LIMIT_KEYS, 'limits.');
    const l = doc.limits;
    if (l.maxRecordings !== undefined) c.limits.maxRecordings = int(l.maxRecordings, 'limits.maxRecordings', 1, 100_000);
    if (l.maxReplays !== undefined) c.limits.maxReplays = int(l.maxReplays, 'limits.maxReplays', 0, 100_000);
    if (l.maxEventSize !== undefined) c.limits.maxEventSize = int(l.maxEventSize, 'limits.maxEventSize', 1, 1 << 30);
    if (l.sessionTimeoutMs !== undefined) {
      c.limits.sessionTimeoutMs = int(l.sessionTimeoutMs, 'limits.sessionTimeoutMs', 100, 86_400_000);
    }
    if (l.maxSessions !== undefined) c.limits.maxSessions = int(l.maxSessions, 'limits.maxSessions', 1, 1_000_000);
    if (l.maxSessionsPerAddress !== undefined) {
      c.limits.maxSessionsPerAddress = int(l.maxSessionsPerAddress, 'limits.maxSessionsPerAddress', 1, 1_000_000);
    }
    if (l.maxKeepAliveMs !== undefined) c.limits.maxKeepAliveMs = int(l.maxKeepAliveMs, 'limits.maxKeepAliveMs', 100, 86_400_000);
    if (c.limits.sessionTimeoutMs > c.limits.maxKeepAliveMs) {
      throw bad(
        l.sessionTimeoutMs !== undefined ? 'limits.sessionTimeoutMs' : 'limits.maxKeepAliveMs',
        `the default keep-alive (limits.sessionTimeoutMs ${c.limits.sessionTimeoutMs}) must not exceed limits.maxKeepAliveMs (${c.limits.maxKeepAliveMs})`,
      );
    }
  }
  if (doc.allowlist !== undefined) {
    c.allowlist = strList(doc.allowlist, 'allowlist');
    c.allowlist.forEach((a, i) => {
      try {
        parseAllowEntry(a);
      } catch (err) {
        throw bad(`allowlist[${i}]`, (err as Error).message);
      }
    });
  }
  if (doc.allowDestructive !== undefined) {
    if (typeof doc.allowDestructive !== 'boolean') throw bad('allowDestructive', 'must be true or false');
    c.allowDestructive = doc.allowDestructive;
  }
  if (doc.http !== undefined && doc.metricsPort !== undefined) throw bad('metricsPort', "give 'http' or its older spelling 'metricsPort', not both");
  if (doc.http !== undefined) {
    if (doc.http === null) c.http = null;
    else {
      parseHostPort(str(doc.http, 'http', 300), 'http');
      c.http = doc.http as string;
    }
    c.metricsPort = undefined; // a later document (the command line) overrides an earlier one
  }
  if (doc.metricsPort !== undefined) {
    c.metricsPort = doc.metricsPort === null ? undefined : int(doc.metricsPort, 'metricsPort', 0, 65535);
    // null switched the endpoint off before the console existed; it still does
    c.http = doc.metricsPort === null ? null : undefined;
  }
  if (doc.logLevel !== undefined) {
    if (typeof doc.logLevel !== 'string' || !LOG_LEVELS.includes(doc.logLevel)) {
      throw bad('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
    }
    c.logLevel = doc.logLevel as ArchiverConfig['logLevel'];
  }
  if (doc.progressIntervalMs !== undefined) {
    c.progressIntervalMs = int(doc.progressIntervalMs, 'progressIntervalMs', 10, 3_600_000);
  }
  if (doc.retention !== undefined) c.retention = doc.retention === null ? undefined : parseRetentionConfig(doc.retention);
  if (doc.archive !== undefined) c.archive = parseArchiveConfig(doc.archive);
  return c;
}

/** Reads and validates a config file (JSON). */
export function loadConfigFile(base: ArchiverConfig, path: string): ArchiverConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return applyConfigDocument(base, doc);
}
