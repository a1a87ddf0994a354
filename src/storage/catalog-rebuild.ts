/**
 * What the files of an archive directory say about its recordings, independent of the
 * catalog: which ids have files, which of them have segment data, and whether their metadata
 * file (the descriptor's twin) still verifies. Archive.open uses it so that a lost or damaged
 * catalog is rebuilt from the metadata files, an id whose files are on disk is never handed
 * out again, and data the catalog cannot be rebuilt for stops the open before anything is
 * written (docs/FORMAT.md, "Recovery").
 */
import { readdirSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { RECORDING_FILE_PATTERN } from './layout.js';
import { readMetadata } from './metadata-file.js';

export interface RecordingFiles {
  /** File names of this recording in the directory. */
  names: string[];
  /** It has segment data (`.rec` files). */
  hasSegments: boolean;
}

export interface DirectoryFiles {
  names: string[];
  byRecording: Map<number, RecordingFiles>;
  /** Highest recording id in any file name, -1 if none. */
  maxId: number;
}

export function readDirectory(dir: string): DirectoryFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  return groupByRecording(names);
}

export function groupByRecording(names: string[]): DirectoryFiles {
  const byRecording = new Map<number, RecordingFiles>();
  let maxId = -1;
  for (const name of names) {
    const m = RECORDING_FILE_PATTERN.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    if (!Number.isSafeInteger(id)) continue;
    let r = byRecording.get(id);
    if (!r) {
      r = { names: [], hasSegments: false };
      byRecording.set(id, r);
    }
    r.names.push(name);
    if ((m[3] === 'rec' || m[3] === 'arc') && m[4] === undefined) r.hasSegments = true;
    if (id > maxId) maxId = id;
  }
  return { names, byRecording, maxId };
}

/**
 * Refuses (CORRUPT_CATALOG) when recordings the catalog does not cover (`covered` ids from 0)
 * have segment files but no metadata file that verifies: nothing could describe their data,
 * and opening would risk handing their id, and files, to a new recording.
 */
export function checkRebuildable(dir: string, files: DirectoryFiles, covered: number): void {
  const lost: number[] = [];
  for (const [id, r] of files.byRecording) {
    if (id < covered || !r.hasSegments) continue;
    try {
      readMetadata(dir, id);
    } catch {
      lost.push(id);
    }
  }
  if (lost.length === 0) return;
  lost.sort((a, b) => a - b);
  const ids = lost.join(', ');
  throw new VcrError(
    ErrorCode.CORRUPT_CATALOG,
    `archive ${dir}: recording(s) ${ids} have segment files but neither a catalog descriptor nor a readable metadata file (<id>.meta), ` +
      `so the catalog cannot be rebuilt for them; nothing was changed. Restore catalog.dat or the .meta files from a backup, ` +
      `or move the files of recording(s) ${ids} out of the directory, then open it again`,
  );
}
