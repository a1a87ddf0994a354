/**
 * Segment damage found at open: every segment position a recording's frames cover must be
 * present, a tombstone or away; a missing or truncated segment file is damage, reported (the
 * archiver logs it at start-up) and never "repaired" away. A truncated file anywhere is damage
 * too. Also settles an interrupted drop: a `.rec` beside an `.away` marker is the leftover of a
 * drop (or an install) a crash cut short, and the marker wins.
 */
import type { ErrorCodeValue } from '../util/errors.js';
import { awayFileName, deletionLogFileName, segmentFileName } from './layout.js';
import type { SegmentFiles } from './segment-files.js';
import { archivedProblem } from './archive-tier/settle.js';

export interface SegmentDamage {
  recordingId: number;
  base: number;
  /** What is wrong, for people (names the file, and sizes for a truncated one). */
  problem: string;
  /** SEGMENT_MISSING or SEGMENT_TRUNCATED. */
  code: ErrorCodeValue;
  /** The code's name, for logs. */
  codeName: string;
}

/** Damage of the segments that hold positions [start, end) of a recording, and truncated files elsewhere. */
export function findDamage(files: SegmentFiles, names: readonly string[], start: number, end: number): SegmentDamage[] {
  const out: SegmentDamage[] = [];
  const seen = new Set<number>();
  const check = (base: number, onlyTruncated: boolean): void => {
    const { state, size } = files.stat(base);
    if (state === 'truncated' || (state === 'missing' && !onlyTruncated)) {
      const e = files.unavailable(base, state, size);
      out.push({ recordingId: files.recordingId, base, problem: e.message, code: e.code, codeName: e.codeName });
    } else if (state === 'present' && files.isArchived(base)) {
      // an archived segment whose copy is gone or whose reference is damaged (archive tier)
      const e = archivedProblem(files, base);
      if (e) out.push({ recordingId: files.recordingId, base, problem: e.message, code: e.code, codeName: e.codeName });
    }
  };
  for (let base = files.baseOf(start); base < end; base += files.segmentLength) {
    seen.add(base);
    check(base, false);
  }
  for (const base of files.listBases(names)) if (!seen.has(base)) check(base, true);
  return out;
}

/** Removes the `.rec` (and `.dlog`) that an `.away` marker overrides; returns what it did. */
export function settleAwayMarkers(files: SegmentFiles, names: readonly string[], repair: boolean): string[] {
  const present = new Set(names);
  const actions: string[] = [];
  for (const base of files.listBases(names)) {
    if (!present.has(awayFileName(files.recordingId, base))) continue;
    const leftovers = [segmentFileName(files.recordingId, base), deletionLogFileName(files.recordingId, base)].filter((n) => present.has(n));
    if (leftovers.length === 0 || !repair) continue;
    files.markAway(base);
    actions.push(`segment ${base} is held elsewhere (away marker): removed the leftover ${leftovers.join(' and ')}`);
  }
  return actions;
}
