/**
 * `<dir>/incoming/<R>-<base>.part`: copies of segments being received, one file per segment
 * whoever fills it (a mirror stream while the segment is open, a fetch once it is sealed; a
 * fetch takes a part over from a stream and resumes at its end). A part is created at the
 * segment's length (allocated for real, as storage allocates segments) and, after a restart,
 * resumed at the end of its last good frame. It becomes a segment of the archive only through
 * `Archive.installSegment`, which checks its digest (the part's own, computed from the frames
 * it CRC-checked as they arrived: `checkedSummary`); until then it is no copy of anything.
 */
import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckedIndex } from '../../storage/archive.js';
import type { SegmentSummary } from '../../storage/digest.js';
import { storageError } from '../../storage/io-errors.js';
import { prefixSummary, scanGoodPrefix, type SegmentPrefix } from '../../storage/segment-prefix.js';
import { preallocateFile } from '../../storage/segment-files.js';
import { CopyDigest } from './copy-digest.js';
import { PART_FILE_PATTERN, incomingDir, partFileName } from './replication-context.js';
import { SegmentCopyFile, openForWrite } from './segment-copy-file.js';

/** Who writes a part now: a mirror stream or a fetch (a fetch takes precedence). */
export type PartOwner = 'mirror' | 'fetch';

export class PartFile extends SegmentCopyFile {
  owner: PartOwner | undefined;
  private readonly checked = new CopyDigest(this.first);

  /**
   * The summary of the frames this part stored, each checked (CRC) in memory before it was
   * written, for `installSegment` to take instead of reading the file back; undefined when the
   * part holds frames it did not check itself (resumed from an earlier run's file, cut, or
   * with DELETED frames): install then reads it.
   */
  checkedSummary(): SegmentSummary | undefined {
    return this.checked.summary();
  }

  /** The time-index entries of the frames this part checked, when checkedSummary is known (see CopyDigest). */
  checkedIndex(): CheckedIndex | undefined {
    return this.checked.index();
  }

  protected override stored(bytes: Buffer, offset: number, length: number, position: number): void {
    this.checked.add(bytes, offset, length, position);
  }

  override rewindTo(from: number): void {
    super.rewindTo(from);
    if (from === this.first) this.checked.reset();
    else this.checked.forget();
  }

  /** The digest and extent of the part's good prefix (frames CRC-checked), for a fence report. */
  summary(): SegmentPrefix {
    return prefixSummary(this.where(), this.map(), this.first - this.base, Number.MAX_SAFE_INTEGER, []);
  }

  /**
   * Cuts the part at `position` (a sealed end below what it holds): true when a frame starts
   * there, and everything from it on is then zeroed; false leaves the part as it is.
   */
  cutAt(position: number): boolean {
    const p = scanGoodPrefix(this.where(), this.map(), this.first - this.base, position);
    if (p.end !== position) return false;
    this.rewindTo(position);
    return true;
  }

  /** Re-reads the part from its file: its good prefix, and zeros after it when a damaged frame ends it. */
  rescan(): void {
    const p = scanGoodPrefix(this.where(), this.map(), this.first - this.base);
    this.next = p.next;
    this.end = p.end;
    this.complete = p.complete;
    this.lastUtcNs = p.lastUtcNs;
    if (p.damagedAt !== undefined) {
      // bytes after a damaged frame are no frames of this copy: a shorter copy must not run into them
      this.complete = true; // rewindTo zeros up to the segment's end
      this.rewindTo(p.end);
    }
    // frames found in the file were not checked by this part: only an empty one is known
    if (this.next === this.first) this.checked.reset();
    else this.checked.forget();
  }

  private where(): { recordingId: number; base: number; segmentLength: number } {
    return { recordingId: this.recordingId, base: this.base, segmentLength: this.segmentLength };
  }
}

export class IncomingParts {
  readonly dir: string;
  private readonly parts = new Map<string, PartFile>();

  constructor(archiveDir: string) {
    this.dir = incomingDir(archiveDir);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      throw storageError(err, `cannot create ${this.dir}`);
    }
  }

  path(recordingId: number, base: number): string {
    return join(this.dir, partFileName(recordingId, base));
  }

  get(recordingId: number, base: number): PartFile | undefined {
    return this.parts.get(key(recordingId, base));
  }

  all(): PartFile[] {
    return [...this.parts.values()];
  }

  /**
   * The part of segment (R, base): the one open here, else the file left by an earlier run
   * (resumed at its last good frame; one of the wrong length is replaced), else a new one.
   */
  open(recordingId: number, base: number, segmentLength: number, startPosition: number): PartFile {
    const k = key(recordingId, base);
    const had = this.parts.get(k);
    if (had) return had;
    const path = this.path(recordingId, base);
    const first = Math.max(base, startPosition);
    let size = -1;
    try {
      size = statSync(path).size;
    } catch {
      // no file yet
    }
    if (size !== segmentLength) {
      if (size >= 0) unlinkQuietly(path);
      preallocateFile(path, segmentLength);
    }
    const part = new PartFile(path, recordingId, base, segmentLength, first, openForWrite(path));
    if (size === segmentLength) part.rescan();
    this.parts.set(k, part);
    return part;
  }

  /** Closes the part and deletes its file (installed, not needed, or corrupt). */
  remove(part: PartFile): void {
    part.close();
    this.parts.delete(key(part.recordingId, part.base));
    unlinkQuietly(part.path);
  }

  /** Closes the part; its file stays (a later run resumes it). */
  release(part: PartFile): void {
    part.close();
    this.parts.delete(key(part.recordingId, part.base));
  }

  /** Part files on disk that are not open here: (R, base) of each. */
  filesNotOpen(): { recordingId: number; base: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: { recordingId: number; base: number }[] = [];
    for (const name of names) {
      const m = PART_FILE_PATTERN.exec(name);
      if (!m) continue;
      const recordingId = Number(m[1]);
      const base = Number(m[2]);
      if (!this.parts.has(key(recordingId, base))) out.push({ recordingId, base });
    }
    return out;
  }

  removeFile(recordingId: number, base: number): void {
    unlinkQuietly(this.path(recordingId, base));
  }

  closeAll(): void {
    for (const p of this.parts.values()) p.close();
    this.parts.clear();
  }
}

function key(recordingId: number, base: number): string {
  return `${recordingId}/${base}`;
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
