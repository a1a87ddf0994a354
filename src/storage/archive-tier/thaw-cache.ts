/**
 * Reads of archived segments. Readers (FrameCursor, merged reads, replay, verify, the deleter)
 * work on a segment's bytes as one buffer; for an archived segment that buffer is the mapping
 * of a scratch copy, `<thaw dir>/<id>-<base>.seg`, made by decompressing the archived file
 * a block at a time into a sparse file (zeros past the stored bytes cost no disk) and then
 * applying the segment's deletion log, so deletions made after the segment was archived hide
 * their events (frames named by the log become DELETED runs, as the deleter makes them).
 *
 * Memory: decompression holds one compressed and one decompressed block at a time; the copy
 * itself is file pages the kernel can drop, not heap. At most `maxSegments` copies (default 4)
 * stay, least recently used dropped first (file removed; a mapping a reader still holds stays
 * valid). The thaw directory of a writable archive is `<dir>/thaw` (cleared at open); a
 * read-only open (`vcr catalog verify`) uses a directory under the system temp directory.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { readDeletionLog, type DeletionLogRecord } from '../deletion-log.js';
import { writeHeaderOnlyFrame } from '../frame.js';
import { storageError } from '../io-errors.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame } from '../layout.js';
import { mapFile, type SegmentFiles } from '../segment-files.js';
import { ArchivedFile } from './archived-file.js';
import { readRef, refPath } from './ref-file.js';
import type { ArchivedRef } from './tier-layout.js';

interface Thawed {
  path: string;
  mapping: Buffer;
}

const thawDirs = new Map<string, string>();
const cached = new Map<string, Thawed>();
let maxSegments = 4;
/** Archived locations moved since their references were written: location id -> directory. */
const locations = new Map<string, string>();
let processDir: string | undefined;

/** Thawed copies of segments of the archive in `archiveDir` go to `thawDir` (cleared now). */
export function useThawDirectory(archiveDir: string, thawDir: string): void {
  try {
    rmSync(thawDir, { recursive: true, force: true }); // made again at the first thaw
  } catch (err) {
    throw storageError(err, `cannot prepare ${thawDir}`);
  }
  thawDirs.set(archiveDir, thawDir);
}

export function setThawLimit(segments: number): void {
  maxSegments = Math.max(1, segments);
}

/** Where the archived files of location `id` are now (when the location was moved or mounted elsewhere). */
export function setLocationDirectory(id: string, dir: string): void {
  locations.set(id, dir);
}

/** The archived file a reference names: under the location's configured directory, else where it was written. */
export function archivedPathOf(ref: ArchivedRef): string {
  const dir = locations.get(ref.locationId);
  if (dir === undefined) return ref.path;
  const slash = ref.path.lastIndexOf('/');
  return join(dir, ref.path.slice(slash + 1));
}

function thawDirOf(archiveDir: string): string {
  const d = thawDirs.get(archiveDir);
  if (d !== undefined) {
    mkdirSync(d, { recursive: true });
    return d;
  }
  if (processDir === undefined) {
    processDir = join(tmpdir(), `vcr-thaw-${process.pid}`);
    mkdirSync(processDir, { recursive: true });
    const dir = processDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return processDir;
}

/** The mapping of the thawed copy of archived segment `base` (made now if not cached). */
export function thawedMapping(files: SegmentFiles, base: number): Buffer {
  const ref = readRef(refPath(files.dir, files.recordingId, base));
  const dir = thawDirOf(files.dir);
  const path = join(dir, `${files.recordingId}-${base}.seg`);
  const hit = cached.get(path);
  if (hit) {
    cached.delete(path);
    cached.set(path, hit); // most recently used last
    return hit.mapping;
  }
  const mapping = thaw(files, base, ref, path);
  cached.set(path, { path, mapping });
  while (cached.size > maxSegments) {
    const [oldest, t] = cached.entries().next().value as [string, Thawed];
    cached.delete(oldest);
    try {
      unlinkSync(t.path);
    } catch {
      // gone
    }
  }
  return mapping;
}

/** Drops the thawed copy of a segment (its deletion log or reference changed). */
export function forgetThawed(files: SegmentFiles, base?: number): void {
  for (const [path, t] of cached) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!path.startsWith(thawDirs.get(files.dir) ?? processDir ?? '\0')) continue;
    if (base === undefined ? !name.startsWith(`${files.recordingId}-`) : name !== `${files.recordingId}-${base}.seg`) continue;
    cached.delete(path);
    try {
      unlinkSync(t.path);
    } catch {
      // gone
    }
  }
}

/** Thawed segment copies cached now (for tests and status). */
export function thawedCount(): number {
  return cached.size;
}

function thaw(files: SegmentFiles, base: number, ref: ArchivedRef, path: string): Buffer {
  const file = ArchivedFile.open(archivedPathOf(ref));
  let fd = -1;
  try {
    const h = file.header;
    if (h.recordingId !== files.recordingId || h.base !== base || h.segmentLength !== files.segmentLength) {
      throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `${file.path} holds segment ${h.base} of recording ${h.recordingId}, not ${base} of ${files.recordingId}`);
    }
    fd = openSync(path, 'w+');
    file.thawInto(fd);
    ftruncateSync(fd, files.segmentLength);
    const mapping = mapFile(fd, files.segmentLength, true);
    applyDeletionLog(mapping, base, files.segmentLength, readDeletionLog(files, base));
    return mapping;
  } catch (err) {
    try {
      unlinkSync(path);
    } catch {
      // not made
    }
    if (err instanceof VcrError) throw err;
    throw storageError(err, `cannot thaw segment ${base} of recording ${files.recordingId} into ${path}`);
  } finally {
    if (fd >= 0) closeSync(fd);
    file.close();
  }
}

/**
 * Frames the log names that are still DATA in the copy become DELETED: one DELETED frame per
 * run of such frames that follow one another, body zeroed (what the deleter does locally; a
 * run the deleter made of two deletions that met may come out as one frame, which reads and
 * verifies the same). Returns the DELETED frames written.
 */
export function applyDeletionLog(seg: Buffer, base: number, segLen: number, log: readonly DeletionLogRecord[]): number {
  let runs = 0;
  let runStart = -1;
  let runEnd = -1;
  let runUtc = 0n;
  const close = (): void => {
    if (runStart < 0) return;
    const s = runStart - base;
    const mono = seg.readBigInt64LE(s + 16);
    writeHeaderOnlyFrame(seg, s, runEnd - runStart, FrameType.DELETED, runUtc, mono);
    seg.fill(0, s + FRAME_HEADER_LENGTH, runEnd - base);
    runs++;
    runStart = -1;
  };
  for (const r of log) {
    const off = r.position - base;
    const data = off >= 0 && off + alignFrame(r.frameLength) <= segLen && isData(seg, off, r.frameLength);
    if (!data) {
      close(); // already deleted in the copy (before it was archived)
      continue;
    }
    if (runStart >= 0 && r.position !== runEnd) close();
    if (runStart < 0) {
      runStart = r.position;
      runUtc = r.utcNs;
    }
    runEnd = r.position + alignFrame(r.frameLength);
  }
  close();
  return runs;
}

function isData(seg: Buffer, off: number, length: number): boolean {
  return seg.readInt32LE(off) === length && seg.readUInt16LE(off + 4) === FrameType.DATA;
}

/** Removes thaw copies left by an earlier process in `dir` (nothing in it proves anything). */
export function clearThawDirectory(dir: string): void {
  try {
    for (const n of readdirSync(dir)) rmSync(join(dir, n), { force: true });
  } catch {
    // not there
  }
}
