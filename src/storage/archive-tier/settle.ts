/**
 * Start-up settlement of the archive tier in one recording's files (Archive.open, next to the
 * away markers): every state an archive pass can be interrupted in is resolved here, so that a
 * SIGKILL at any step loses nothing and counts no segment twice (docs/ARCHIVER.md, "Archive
 * tier"):
 * - `.arc.tmp` (reference being written): removed; the `.rec` is still there.
 * - `.arc` and `.rec` (killed between recording the location and removing the local file):
 *   the reference wins (it was written only after the copy verified), the `.rec` goes.
 * - `.arc` beside a tombstone or away marker (deleted or dropped since): the archived file and
 *   then the reference go.
 * - `.arc` that does not decode: if the `.rec` is there, the reference goes (the copy is an
 *   orphan the location sweep removes); else it is damage, reported, nothing removed.
 * Temp and orphan files in the archive location itself are the pass's to sweep (it knows the
 * location: see sweepLocation).
 */
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { syncDirectory, type SegmentFiles } from '../segment-files.js';
import { archivedPathOf } from './thaw-cache.js';
import { readRef } from './ref-file.js';
import { ARCHIVED_FILE_PATTERN, REF_FILE_PATTERN, refFileName } from './tier-layout.js';

function unlinkQuietly(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Resolves interrupted archive steps of one recording; returns what it did (nothing when `repair` is false). */
export function settleArchived(files: SegmentFiles, names: readonly string[], repair: boolean): string[] {
  const actions: string[] = [];
  const id = files.recordingId;
  const present = new Set(names);
  for (const name of names) {
    if (name.startsWith(`${id}-`) && name.endsWith('.arc.tmp') && repair) {
      unlinkQuietly(join(files.dir, name));
      actions.push(`removed ${name} (an archive pass was interrupted before it recorded the archived copy)`);
    }
  }
  for (const name of names) {
    const m = REF_FILE_PATTERN.exec(name);
    if (!m || Number(m[1]) !== id) continue;
    const base = Number(m[2]);
    const recName = name.replace(/\.arc$/, '.rec');
    const gone = present.has(name.replace(/\.arc$/, '.del')) || present.has(name.replace(/\.arc$/, '.away'));
    let archivedPath: string | undefined;
    try {
      archivedPath = archivedPathOf(readRef(files.archivedRefPath(base)));
    } catch {
      if (present.has(recName) || gone) {
        if (!repair) continue;
        unlinkQuietly(files.archivedRefPath(base));
        syncDirectory(files.dir);
        actions.push(`removed the damaged archived reference ${name} (the segment is ${gone ? 'deleted or held elsewhere' : 'still local'})`);
      }
      continue; // damage: reported by archivedDamage
    }
    if (!repair) continue;
    if (gone) {
      unlinkQuietly(archivedPath);
      unlinkQuietly(files.archivedRefPath(base));
      syncDirectory(files.dir);
      actions.push(`segment ${base} was deleted or dropped: removed its archived copy ${archivedPath} and ${name}`);
    } else if (present.has(recName)) {
      files.remove(base);
      syncDirectory(files.dir);
      actions.push(`segment ${base} is archived (${archivedPath}): removed the leftover local ${recName}`);
    }
  }
  return actions;
}

/** Why the archived segment at `base` cannot be read (reference damaged, archived file missing), or undefined. */
export function archivedProblem(files: SegmentFiles, base: number): VcrError | undefined {
  let path: string;
  try {
    path = archivedPathOf(readRef(files.archivedRefPath(base)));
  } catch (err) {
    return err instanceof VcrError ? err : new VcrError(ErrorCode.CORRUPT_SEGMENT, String(err));
  }
  if (!existsSync(path)) {
    return new VcrError(ErrorCode.SEGMENT_MISSING, `recording ${files.recordingId}, segment ${base}: archived copy ${path} is missing (named by ${refFileName(files.recordingId, base)})`);
  }
  return undefined;
}

/**
 * Sweeps an archive location directory: temp files of interrupted writes, and archived files
 * no reference in `archiveDir` names (a pass killed after writing or verifying the copy and
 * before recording it: the local `.rec` is still the segment). Returns what it removed.
 */
export function sweepLocation(locationDir: string, archiveDir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(locationDir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const path = join(locationDir, n);
    if (n.endsWith('.tmp')) {
      if (unlinkQuietly(path)) removed.push(n);
      continue;
    }
    const m = ARCHIVED_FILE_PATTERN.exec(n);
    if (!m) continue;
    const ref = join(archiveDir, refFileName(Number(m[1]), Number(m[2])));
    if (existsSync(ref)) continue;
    if (unlinkQuietly(path)) removed.push(n);
  }
  if (removed.length > 0) syncDirectory(locationDir);
  return removed;
}
