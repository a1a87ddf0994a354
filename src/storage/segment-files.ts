/**
 * Segment files of one recording: naming, creation with real preallocation, mapping.
 *
 * Preallocation is real (fallocate(2) through the native addon, else fallocate(1), else
 * written zeros: see native-fallocate.ts) because storing into a sparse
 * mapping on a full disk raises SIGBUS and kills the process; allocating up front turns a
 * full disk into an ENOSPC at segment creation, which the writer reports as STORAGE_FULL for
 * that recording only. A segment whose frames were all deleted is removed and replaced by an
 * empty `<id>-<base>.del` tombstone, so readers know the gap is a deletion, not a loss (files
 * are unlinked, never truncated: a truncated file still mapped elsewhere would SIGBUS).
 */
import { spawnSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { closeSync, existsSync, fstatSync, ftruncateSync, fsyncSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type mmapTypes from '@riaskov/mmap-io';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError } from './io-errors.js';
import { nativeFallocate } from './native-fallocate.js';
import { awayFileName, deletionLogFileName, segmentFileName, tombstoneFileName } from './layout.js';
import { refFileName } from './archive-tier/tier-layout.js';
import { thawedMapping } from './archive-tier/thaw-cache.js';

type MmapIo = typeof mmapTypes.default;

/**
 * Loads @riaskov/mmap-io. Its loader (node-pre-gyp) parses process.argv for its own options
 * and takes e.g. `--dir X` of `vcr catalog verify --dir X` as its `--directory`, so argv is
 * hidden while it loads. The package is CommonJS whose module.exports is the binding; its
 * typings describe a default export, so take whichever shape is there.
 */
function loadMmap(): MmapIo {
  const require = createRequire(import.meta.url);
  const saved = process.argv;
  process.argv = saved.slice(0, 2);
  try {
    const m = require('@riaskov/mmap-io') as MmapIo & { default?: MmapIo };
    return m.default ?? m;
  } finally {
    process.argv = saved;
  }
}
const mmap = loadMmap();

/** Files that give a segment position a state: segment, tombstone, away marker, archived reference. */
const SEGMENT_STATE_FILE_PATTERN = /^(\d+)-(\d+)\.(?:rec|del|away|arc)$/;
const ZERO_CHUNK = Buffer.alloc(1024 * 1024);
let fallocateWorks: boolean | undefined;
const osErrno = osConstants.errno;

/** Maps a file shared; `populate` pre-faults every page (MAP_POPULATE) so the hot path takes no page faults. */
export function mapFile(fd: number, length: number, writable: boolean, populate = false): Buffer {
  const prot = writable ? mmap.PROT_READ | mmap.PROT_WRITE : mmap.PROT_READ;
  return mmap.map(length, prot as 1 | 3, populate ? mmap.MAP_SHARED | mmap.MAP_POPULATE : mmap.MAP_SHARED, fd, 0);
}

export function syncMapping(buf: Buffer, offset: number, length: number): void {
  if (length <= 0) return;
  const pageStart = offset & ~(mmap.PAGESIZE - 1);
  mmap.sync(buf, pageStart, Math.min(buf.length - pageStart, length + (offset - pageStart)), true, false);
}

/** Allocates `length` bytes of `path` for real; throws STORAGE_FULL / STORAGE_UNWRITABLE. */
export function preallocateFile(path: string, length: number): void {
  const tmp = `${path}.tmp`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    let done = false;
    const native = fallocateWorks !== false ? nativeFallocate() : undefined;
    if (native) {
      const r = native(fd, length);
      if (r === 0) done = true;
      else if (r === -osErrno.ENOSPC || r === -osErrno.EFBIG) throw Object.assign(new Error('No space left on device (fallocate)'), { code: 'ENOSPC' });
      else if (r === -osErrno.EOPNOTSUPP) fallocateWorks = false; // zeros below (any other error shows there too)
    } else if (fallocateWorks !== false && length >= 8 * 1024 * 1024) {
      // spawning fallocate(1) costs a few ms (tens in a large process); below 8 MiB writing zeros is as fast
      const r = spawnSync('fallocate', ['-l', String(length), tmp], { encoding: 'utf8' });
      if (r.status === 0) {
        done = true;
        fallocateWorks = true;
      } else if (/No space|File too large/i.test(r.stderr ?? '')) {
        throw Object.assign(new Error(r.stderr.trim()), { code: 'ENOSPC' });
      } else if (r.error || /not supported/i.test(r.stderr ?? '')) {
        fallocateWorks = false;
      }
    }
    if (!done) {
      // a short write means the disk filled up: never leave a hole (a hole in a mapping is SIGBUS)
      for (let at = 0; at < length; ) {
        const n = writeSync(fd, ZERO_CHUNK, 0, Math.min(ZERO_CHUNK.length, length - at), at);
        if (n <= 0) throw Object.assign(new Error('No space left on device (short write)'), { code: 'ENOSPC' });
        at += n;
      }
    }
    if (fstatSync(fd).size !== length) ftruncateSync(fd, length);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
    throw storageError(err, `cannot create ${path}`);
  }
}

/**
 * Gives back the pages of `[offset, offset + length)` of a shared mapping (MADV_DONTNEED):
 * written data stays in the page cache and reaches the file as usual, but no longer counts
 * in this process's resident set. A later access just faults the page in again.
 */
export function releaseMapping(buf: Buffer, offset: number, length: number): void {
  const pageStart = offset & ~(mmap.PAGESIZE - 1);
  const end = (offset + length) & ~(mmap.PAGESIZE - 1);
  if (end > pageStart) mmap.advise(buf, pageStart, end - pageStart, mmap.MADV_DONTNEED);
}

/**
 * Creates a segment file a slice at a time (zeros written for real, as preallocateFile does),
 * so a recording's next segment is built across many duty cycles instead of stalling one of
 * them for the tens of milliseconds a 64 MiB allocation takes. The file appears under its
 * name only when complete; abort() removes the partial file.
 */
export class SegmentPreallocator {
  private readonly tmp: string;
  private fd = -1;
  private written = 0;

  constructor(
    private readonly path: string,
    private readonly length: number,
  ) {
    this.tmp = `${path}.tmp`;
  }

  get isDone(): boolean {
    return this.written >= this.length && this.fd < 0;
  }

  /** Writes up to `maxBytes` more; returns true once the file is complete and in place. */
  step(maxBytes: number): boolean {
    if (this.isDone) return true;
    try {
      if (this.fd < 0) this.fd = openSync(this.tmp, 'w');
      const end = Math.min(this.length, this.written + maxBytes);
      while (this.written < end) {
        const n = writeSync(this.fd, ZERO_CHUNK, 0, Math.min(ZERO_CHUNK.length, end - this.written), this.written);
        if (n <= 0) throw Object.assign(new Error('No space left on device (short write)'), { code: 'ENOSPC' });
        this.written += n;
      }
      if (this.written < this.length) return false;
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.path);
      return true;
    } catch (err) {
      this.abort();
      throw storageError(err, `cannot create ${this.path}`);
    }
  }

  /** Completes the file now. */
  finish(): void {
    this.step(this.length);
  }

  abort(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = -1;
    }
    this.written = 0;
    try {
      unlinkSync(this.tmp);
    } catch {
      // nothing to clean
    }
  }
}

/**
 * Where one segment position of a recording stands locally (docs/FORMAT.md, "Segment states"):
 * `present` (the `.rec` file, full length), `tombstone` (every frame deleted: `.del`), `away`
 * (held by other nodes: `.away` marker, no `.rec`), `missing` (no file and no marker) and
 * `truncated` (a `.rec` shorter than the segment length). The last two are damage.
 */
export type SegmentState = 'present' | 'tombstone' | 'away' | 'missing' | 'truncated';

/** fsync of a directory, so that a file created, renamed or removed in it stays so. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates an empty marker file durably (file and directory entry fsync'ed). */
function createMarker(path: string, dir: string): void {
  const fd = openSync(path, 'w');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirectory(dir);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** File access for the segments of one recording. */
export class SegmentFiles {
  constructor(
    readonly dir: string,
    readonly recordingId: number,
    readonly segmentLength: number,
  ) {}

  baseOf(position: number): number {
    return position - (position & (this.segmentLength - 1));
  }

  path(base: number): string {
    return join(this.dir, segmentFileName(this.recordingId, base));
  }

  tombstonePath(base: number): string {
    return join(this.dir, tombstoneFileName(this.recordingId, base));
  }

  awayPath(base: number): string {
    return join(this.dir, awayFileName(this.recordingId, base));
  }

  deletionLogPath(base: number): string {
    return join(this.dir, deletionLogFileName(this.recordingId, base));
  }

  /** The `.arc` reference of a segment moved to an archive location (docs/FORMAT.md, "Archive tier"). */
  archivedRefPath(base: number): string {
    return join(this.dir, refFileName(this.recordingId, base));
  }

  /** The segment lives in an archive location: it reads (as `present`) through a thawed copy. */
  isArchived(base: number): boolean {
    return existsSync(this.archivedRefPath(base));
  }

  /**
   * The segment's state and, for a `.rec` file, its size. A tombstone wins over a marker, a
   * marker over an archived reference, a reference over a file. An archived segment is
   * `present`: this node holds it, in the archive tier, and reads it like any other.
   */
  stat(base: number): { state: SegmentState; size: number } {
    if (existsSync(this.tombstonePath(base))) return { state: 'tombstone', size: 0 };
    if (existsSync(this.awayPath(base))) return { state: 'away', size: 0 };
    if (this.isArchived(base)) return { state: 'present', size: this.segmentLength };
    let size: number;
    try {
      size = statSync(this.path(base)).size;
    } catch {
      return { state: 'missing', size: 0 };
    }
    return { state: size < this.segmentLength ? 'truncated' : 'present', size };
  }

  status(base: number): SegmentState {
    return this.stat(base).state;
  }

  /** The error a read of a segment in `state` (not present, not a tombstone) gets. */
  unavailable(base: number, state: SegmentState, size?: number): VcrError {
    const name = segmentFileName(this.recordingId, base);
    const where = `recording ${this.recordingId}, segment ${name} (positions ${base}..${base + this.segmentLength})`;
    switch (state) {
      case 'away':
        return new VcrError(ErrorCode.SEGMENT_ELSEWHERE, `${where} is held by other nodes, not this one`);
      case 'truncated': {
        const actual = size ?? this.stat(base).size;
        return new VcrError(ErrorCode.SEGMENT_TRUNCATED, `${where}: file is too short: ${actual} bytes, expected ${this.segmentLength}`);
      }
      case 'missing':
        return new VcrError(ErrorCode.SEGMENT_MISSING, `${where}: file is missing (no tombstone or away marker explains it)`);
      default:
        return new VcrError(ErrorCode.GENERIC, `${where} is ${state}`);
    }
  }

  create(base: number): void {
    preallocateFile(this.path(base), this.segmentLength);
  }

  /** A creator that builds the segment a slice at a time (see SegmentPreallocator). */
  preallocator(base: number): SegmentPreallocator {
    return new SegmentPreallocator(this.path(base), this.segmentLength);
  }

  exists(base: number): boolean {
    return existsSync(this.path(base));
  }

  /**
   * Maps a whole segment; the mapping lives until its Buffer is garbage collected. An archived
   * segment maps its thawed copy (archive-tier/thaw-cache.ts): writes to it (the deleter's)
   * reach only that copy, the deletion log carries them to the next thaw.
   */
  map(base: number, writable: boolean, populate = false): Buffer {
    if (this.isArchived(base) && !existsSync(this.tombstonePath(base)) && !existsSync(this.awayPath(base))) return thawedMapping(this, base);
    const path = this.path(base);
    let fd = -1;
    try {
      fd = openSync(path, writable ? 'r+' : 'r');
      const buf = mapFile(fd, this.segmentLength, writable, populate);
      return buf;
    } catch (err) {
      throw storageError(err, `cannot map ${path}`);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /** Replaces a segment whose frames are all deleted by its tombstone, releasing its blocks (the deletion log stays). */
  tombstone(base: number): void {
    createMarker(this.tombstonePath(base), this.dir);
    this.remove(base);
  }

  /**
   * Marks the segment as held by other nodes: the `.away` marker first (durable), then the
   * `.rec` and `.dlog` go. A crash in between leaves marker and file: the marker wins at open.
   */
  markAway(base: number): void {
    createMarker(this.awayPath(base), this.dir);
    this.remove(base);
    unlinkQuietly(this.deletionLogPath(base));
  }

  removeDeletionLog(base: number): void {
    unlinkQuietly(this.deletionLogPath(base));
  }

  /** Removes the away marker (after a copy of the segment was installed). */
  clearAway(base: number): void {
    unlinkQuietly(this.awayPath(base));
  }

  remove(base: number): void {
    unlinkQuietly(this.path(base));
  }

  /** Base positions of this recording's segment files, tombstones and away markers, ascending. */
  listBases(names: readonly string[] = readdirSync(this.dir)): number[] {
    const out = new Set<number>();
    for (const name of names) {
      const m = SEGMENT_STATE_FILE_PATTERN.exec(name);
      if (m && Number(m[1]) === this.recordingId) out.add(Number(m[2]));
    }
    return [...out].sort((a, b) => a - b);
  }
}

/** Frees the pages of [offset, offset+length) inside a file (fallocate --punch-hole). */
export function punchHole(path: string, offset: number, length: number): boolean {
  if (length <= 0) return true;
  const r = spawnSync('fallocate', ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), path], { encoding: 'utf8' });
  return r.status === 0;
}
