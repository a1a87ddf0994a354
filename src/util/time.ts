/**
 * Times on the command line (SPEC §3): ISO-8601 (`2024-05-01T12:00:00.123456789Z`, an offset
 * such as `+02:00`, or no zone = UTC; a date alone = midnight UTC), epoch nanoseconds (decimal
 * digits), or relative to now (`now`, `-5m`, `-30s`, `-2h`, `-1d`, `-500ms`, `-10us`, `-7ns`,
 * also `+1h`). All become UTC nanoseconds since the epoch as a bigint.
 */
import { ErrorCode, VcrError } from './errors.js';

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
};

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}:?\d{2})?$/;

function bad(input: string, why: string): VcrError {
  return new VcrError(
    ErrorCode.INVALID_ARGUMENT,
    `invalid time '${input}': ${why} (use ISO-8601 like 2024-05-01T12:00:00Z, epoch nanoseconds, or relative like -5m, now)`,
  );
}

/** Parse a CLI time. nowUtcNs is the reference for relative times. Throws INVALID_ARGUMENT. */
export function parseTime(input: string, nowUtcNs: bigint): bigint {
  const text = typeof input === 'string' ? input.trim() : '';
  if (text === '') throw bad(String(input), 'empty');
  if (text.toLowerCase() === 'now') return nowUtcNs;

  if (/^\d+$/.test(text)) {
    if (text.length > 20) throw bad(text, 'epoch nanoseconds out of range');
    const v = BigInt(text);
    if (v > 9_223_372_036_854_775_807n) throw bad(text, 'epoch nanoseconds out of range');
    return v;
  }

  const rel = /^([+-])(\d+)(ns|us|µs|ms|s|m|h|d)$/.exec(text);
  if (rel) {
    const amount = BigInt(rel[2]!) * UNIT_NS[rel[3]!]!;
    return rel[1] === '-' ? nowUtcNs - amount : nowUtcNs + amount;
  }
  if (/^[+-]\d+$/.test(text)) throw bad(text, 'a relative time needs a unit (ns, us, ms, s, m, h, d)');
  if (/^[+-]/.test(text)) throw bad(text, 'unknown relative time');

  const m = ISO.exec(text);
  if (!m) throw bad(text, 'not a recognised time');
  const [, y, mo, d, hh = '00', mi = '00', ss = '00', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(hh);
  const minute = Number(mi);
  const second = Number(ss);
  if (month < 1 || month > 12) throw bad(text, `month ${mo} out of range`);
  const daysInMonth = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day < 1 || day > daysInMonth) throw bad(text, `day ${d} out of range`);
  if (hour > 23 || minute > 59 || second > 59) throw bad(text, 'hour, minute or second out of range');
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    const oh = Number(z[2]);
    const om = Number(z[3]);
    if (oh > 23 || om > 59) throw bad(text, `zone offset ${zone} out of range`);
    offsetMin = (z[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  const ms = date.getTime() - offsetMin * 60_000;
  const fracNs = frac === '' ? 0n : BigInt(frac.padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + fracNs;
}

/** UTC nanoseconds as ISO-8601 with nanoseconds: 2024-05-01T12:00:00.123456789Z. */
export function formatUtcNs(utcNs: bigint): string {
  let ms = utcNs / 1_000_000n;
  let subMs = utcNs % 1_000_000n;
  if (subMs < 0n) {
    subMs += 1_000_000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}
