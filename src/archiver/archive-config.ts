/**
 * The `archive` object of the archiver's config file (docs/ARCHIVER.md, "Archive tier"):
 *
 *   "archive": { "location": "/mnt/cold/vcr", "afterAge": "30d", "compression": "brotli",
 *                "intervalMs": 3600000, "locationId": "cold-1", "shared": false }
 *
 * Validated strictly, every error naming its key (`archive.afterAge`, ...). Ages take a number
 * of milliseconds or a string with a unit: `90s`, `45m`, `12h`, `30d`.
 */
import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, VcrError } from '../util/errors.js';
import { COMPRESSION_NAMES, type CompressionName } from '../storage/archive-tier/index.js';

export interface ArchiveTierConfig {
  /** Directory of the archive location (this archive's copies go to `<location>/<owner>/`). */
  location: string;
  /** Names the location; copies in one location id count once in a cluster. */
  locationId: string;
  /** The location is mounted on several nodes (a cluster counts its copies as one). */
  shared: boolean;
  /** Segments whose every event is older than this move (ms). */
  afterAgeMs: number;
  compression: CompressionName;
  /** zlib level (deflate, gzip: 1-9) or brotli quality (0-11); undefined: the codec's archive default. */
  level: number | undefined;
  /** Uncompressed bytes per block (power of two, 4 KiB to 16 MiB). */
  blockSize: number;
  /** A pass starts this often (ms); 0: only on request (`vcr archive run`). */
  intervalMs: number;
}

export const ARCHIVE_KEYS = ['location', 'locationId', 'shared', 'afterAge', 'compression', 'level', 'blockSize', 'intervalMs'];
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function bad(key: string, what: string): VcrError {
  return new VcrError(ErrorCode.INVALID_ARGUMENT, `config key 'archive.${key}': ${what}`);
}

/** `30d`, `12h`, `45m`, `90s`, `500ms` or a number of milliseconds. */
export function parseAge(v: unknown, key: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(v.trim());
    if (m) {
      const ms = Number(m[1]) * UNITS[m[2]!]!;
      if (Number.isSafeInteger(ms)) return ms;
    }
  }
  throw bad(key, `must be a duration such as "30d", "12h", "45m", "90s" or a number of milliseconds, got ${JSON.stringify(v)}`);
}

function int(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

export function parseArchiveConfig(doc: unknown, baseDir = process.cwd()): ArchiveTierConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `config key 'archive': must be an object {location, afterAge, ...}`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!ARCHIVE_KEYS.includes(k)) throw bad(k, `unknown key (known: ${ARCHIVE_KEYS.join(', ')})`);
  if (typeof o.location !== 'string' || o.location.length === 0) throw bad('location', 'must be the directory of the archive location (a non-empty string)');
  const location = isAbsolute(o.location) ? o.location : resolve(baseDir, o.location);
  let locationId = 'local';
  if (o.locationId !== undefined) {
    if (typeof o.locationId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.locationId)) throw bad('locationId', 'must be 1 to 64 letters, digits, ".", "_" or "-"');
    locationId = o.locationId;
  }
  if (o.shared !== undefined && typeof o.shared !== 'boolean') throw bad('shared', 'must be true or false');
  if (o.afterAge === undefined) throw bad('afterAge', 'is required (how old a segment must be to move, e.g. "30d")');
  const afterAgeMs = parseAge(o.afterAge, 'afterAge');
  let compression: CompressionName = 'brotli';
  if (o.compression !== undefined) {
    if (typeof o.compression !== 'string' || !COMPRESSION_NAMES.includes(o.compression as CompressionName)) {
      throw bad('compression', `must be one of ${COMPRESSION_NAMES.join(', ')}`);
    }
    compression = o.compression as CompressionName;
  }
  let level: number | undefined;
  if (o.level !== undefined) {
    if (compression === 'none') throw bad('level', 'has no meaning with compression "none"');
    level = compression === 'brotli' ? int(o.level, 'level', 0, 11) : int(o.level, 'level', 1, 9);
  }
  let blockSize = 256 * 1024;
  if (o.blockSize !== undefined) {
    blockSize = int(o.blockSize, 'blockSize', 4096, 16 * 1024 * 1024);
    if ((blockSize & (blockSize - 1)) !== 0) throw bad('blockSize', 'must be a power of two');
  }
  const intervalMs = o.intervalMs === undefined ? 3_600_000 : int(o.intervalMs, 'intervalMs', 0, 30 * 86_400_000);
  return { location, locationId, shared: o.shared === true, afterAgeMs, compression, level, blockSize, intervalMs };
}
