/**
 * The `retention` object of the archiver's config file (docs/ARCHIVER.md "Retention"): how
 * long, or how many bytes, each channel keeps before its oldest events are deleted, and how
 * often the archiver checks. Parsed here, on its own, so archiver-config.ts only hands the
 * object over; every error names the key, as the rest of the config does.
 *
 * Units, chosen so a config reads the way people say it: durations are a number of
 * milliseconds or a string `<number><unit>` with unit ms, s, m, h, d or w ("30d", "1h");
 * sizes are a number of bytes or a string with B, KB, MB, GB, TB (powers of 1000) or KiB,
 * MiB, GiB, TiB (powers of 1024) ("500GiB").
 */
import { ErrorCode, VcrError } from '../util/errors.js';

export interface RetentionLimits {
  /** Events older than this (ms, by their UTC time) expire. */
  maxAgeMs?: number;
  /** The channel keeps at most this many stream bytes; its oldest events expire first. */
  maxBytes?: number;
}

export interface RetentionConfig {
  /** How often a scheduled pass runs (ms). */
  intervalMs: number;
  /** Limits of channels not listed; undefined: unlisted channels are kept forever. */
  defaults: RetentionLimits | undefined;
  /** Limits by channel name (primary name or alias); an entry with no limit keeps the channel forever. */
  channels: Map<string, RetentionLimits>;
}

export const DEFAULT_RETENTION_INTERVAL_MS = 3_600_000;
const MIN_INTERVAL_MS = 1_000;
/** ~100 years: far beyond any real limit, still exact as a number of ms and of ns in a bigint. */
const MAX_AGE_MS = 100 * 365 * 86_400_000;
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

function bad(key: string, what: string): VcrError {
  return new VcrError(ErrorCode.INVALID_ARGUMENT, `config key '${key}': ${what}`);
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 100 ? `${s.slice(0, 100)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A number with a unit from `units` (case-insensitive), or a plain number of the base unit. */
function quantity(v: unknown, key: string, units: Record<string, number>, what: string, min: number, max: number): number {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(v);
    const unit = m ? units[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) n = Math.round(Number(m[1]) * unit);
  }
  if (n === undefined || !Number.isSafeInteger(n) || n < min || n > max) {
    throw bad(key, `must be ${what} from ${min} to ${max}, got ${shown(v)}`);
  }
  return n;
}

export function parseDurationMs(v: unknown, key: string, min = 1, max = MAX_AGE_MS): number {
  return quantity(v, key, DURATION_UNITS, 'a duration (ms, or a number with ms, s, m, h, d or w, e.g. "30d")', min, max);
}

export function parseBytes(v: unknown, key: string): number {
  return quantity(v, key, SIZE_UNITS, 'a size (bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. "500GiB")', 1, MAX_BYTES);
}

function limits(v: unknown, key: string): RetentionLimits {
  if (!isObject(v)) throw bad(key, 'must be an object {maxAge, maxBytes}');
  for (const k of Object.keys(v)) {
    if (k !== 'maxAge' && k !== 'maxBytes') throw bad(`${key}.${k}`, 'unknown key (known: maxAge, maxBytes)');
  }
  const out: RetentionLimits = {};
  if (v.maxAge !== undefined) out.maxAgeMs = parseDurationMs(v.maxAge, `${key}.maxAge`);
  if (v.maxBytes !== undefined) out.maxBytes = parseBytes(v.maxBytes, `${key}.maxBytes`);
  return out;
}

/** Parses the `retention` config object; throws VcrError(INVALID_ARGUMENT) naming the key. */
export function parseRetentionConfig(doc: unknown, key = 'retention'): RetentionConfig {
  if (!isObject(doc)) throw bad(key, 'must be an object {interval, default, channels}');
  for (const k of Object.keys(doc)) {
    if (!['interval', 'default', 'channels'].includes(k)) throw bad(`${key}.${k}`, 'unknown key (known: interval, default, channels)');
  }
  const out: RetentionConfig = { intervalMs: DEFAULT_RETENTION_INTERVAL_MS, defaults: undefined, channels: new Map() };
  if (doc.interval !== undefined) out.intervalMs = parseDurationMs(doc.interval, `${key}.interval`, MIN_INTERVAL_MS, 7 * 86_400_000);
  if (doc.default !== undefined) {
    out.defaults = limits(doc.default, `${key}.default`);
    if (out.defaults.maxAgeMs === undefined && out.defaults.maxBytes === undefined) throw bad(`${key}.default`, 'needs maxAge or maxBytes (leave it out to keep unlisted channels forever)');
  }
  if (doc.channels !== undefined) {
    if (!isObject(doc.channels)) throw bad(`${key}.channels`, 'must be an object {"CHANNEL": {maxAge, maxBytes}, ...}');
    for (const [name, v] of Object.entries(doc.channels)) {
      const k = `${key}.channels[${JSON.stringify(name)}]`;
      if (name.length === 0 || name.length > 256 || /[\s\p{Cc}]/u.test(name)) throw bad(k, 'a channel name is 1-256 characters without whitespace or control characters');
      out.channels.set(name, limits(v, k));
    }
  }
  return out;
}

/**
 * The limits of a channel known by `names` (its primary name first, then aliases): the entry
 * of the first name listed, else the default; undefined when nothing limits it.
 */
export function limitsFor(config: RetentionConfig, names: readonly string[]): RetentionLimits | undefined {
  for (const n of names) {
    const l = config.channels.get(n);
    if (l) return l.maxAgeMs === undefined && l.maxBytes === undefined ? undefined : l;
  }
  return config.defaults;
}
