/**
 * Segment-level operations on one recording, the seams replication is built on (docs/FORMAT.md,
 * "Segment states" and "Segment digest"): list a recording's segments and their states,
 * recompute a segment's digest, stream a segment's frames as stored, install a verified copy
 * (temp file, then rename) and drop a local copy (away marker first). Archive wraps them with
 * its per-recording state; they do the file work.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync } from 'node:fs';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { decodeDeletionLog, readDeletionLog } from './deletion-log.js';
import { digestSegment, SegmentWalk, summarize, type SegmentSummary } from './digest.js';
import { FrameStatus, checkFrame, frameStatusText } from './frame.js';
import { storageError } from './io-errors.js';
import { prefixSummary, type SegmentPrefix } from './segment-prefix.js';
import { FRAME_ALIGNMENT, FRAME_HEADER_LENGTH, FrameType, alignFrame, segmentFileName } from './layout.js';
import type { SegmentCache } from './segment-cache.js';
import { mapFile, syncDirectory, type SegmentFiles, type SegmentState } from './segment-files.js';

const header = new EventFrameHeaderDecoder();

/** One recording as the segment operations see it. */
export interface SegmentContext {
  recordingId: number;
  files: SegmentFiles;
  cache: SegmentCache;
  startPosition: number;
  /** Readable end now (a live writer's position). */
  end: number;
  /** Segment a live writer is writing, if any. */
  liveBase: number | undefined;
}

export interface SegmentListing {
  base: number;
  state: SegmentState;
  /** For the segment holding the recording's end (the live or last one): that end position. */
  end?: number;
}

export interface RawFrames {
  /** Whole frames as stored, starting at the requested position. */
  bytes: Buffer;
  /** Where the next call continues (the next segment's base after a segment's last frame). */
  nextPosition: number;
}

export function listSegments(c: SegmentContext): SegmentListing[] {
  const segLen = c.files.segmentLength;
  const bases = new Set<number>();
  for (let b = c.files.baseOf(c.startPosition); b < c.end; b += segLen) bases.add(b);
  if (c.liveBase !== undefined) bases.add(c.liveBase);
  const last = c.liveBase ?? (c.end > c.startPosition ? c.files.baseOf(c.end - 1) : undefined);
  return [...bases]
    .sort((a, b) => a - b)
    .map((base) => ({ base, state: c.files.status(base), ...(base === last ? { end: c.end } : {}) }));
}

function where(c: SegmentContext, base: number): { recordingId: number; base: number; segmentLength: number } {
  return { recordingId: c.recordingId, base, segmentLength: c.files.segmentLength };
}

/** Recomputes the digest of the local segment at `base` (present or tombstone) from its frames and deletion log. */
export function verifySegment(c: SegmentContext, base: number): SegmentSummary {
  checkBase(c, base);
  const view = c.cache.get(base);
  if (typeof view === 'string' && view !== 'tombstone') throw c.cache.unavailable(base, view);
  const from = Math.max(c.startPosition, base) - base;
  return digestSegment(where(c, base), view === 'tombstone' ? null : view, from, c.end, readDeletionLog(c.files, base));
}

/**
 * verifySegment spread over many calls (the scrubber's re-check of idle copies): each `step`
 * walks about `budget` bytes of frames, reading the segment through the cache each time (a
 * segment dropped or installed meanwhile ends the scrub with its coded error); `summary` then
 * gives what verifySegment would have. A segment rewritten by a deletion during the walk gives
 * a digest that does not match: the caller re-verifies it in one piece before concluding.
 */
export class SegmentScrub {
  private readonly walk: SegmentWalk;
  private tombstone = false;
  private walked = false;

  constructor(
    private readonly c: SegmentContext,
    readonly base: number,
  ) {
    checkBase(c, base);
    this.walk = new SegmentWalk(where(c, base), Math.max(c.startPosition, base) - base, c.end);
  }

  /** Bytes of the segment checked so far. */
  get offset(): number {
    return this.walk.offset;
  }

  /** Checks about `budget` more bytes; true once the whole segment is walked. */
  step(budget: number): boolean {
    if (this.walked) return true;
    const view = this.c.cache.get(this.base);
    if (view === 'tombstone') this.tombstone = this.walked = true;
    else if (typeof view === 'string') throw this.c.cache.unavailable(this.base, view);
    else this.walked = this.walk.step(view, budget);
    return this.walked;
  }

  summary(): SegmentSummary {
    return summarize(this.walk.finish(this.tombstone, readDeletionLog(this.c.files, this.base)));
  }
}

/**
 * The longest prefix of good frames (structure and CRC checked) of the local segment at `base`
 * up to the readable end, with its digest: what a fence participant reports of an open segment.
 */
export function segmentPrefix(c: SegmentContext, base: number): SegmentPrefix {
  checkBase(c, base);
  const view = c.cache.get(base);
  if (typeof view === 'string') throw c.files.unavailable(base, view);
  return prefixSummary(where(c, base), view, Math.max(c.startPosition, base) - base, c.end, readDeletionLog(c.files, base));
}

/**
 * Whole frames from `position` (a frame position) up to about `maxBytes` (at least one frame),
 * never past the readable end nor past the segment's end. A tombstone yields no bytes and the
 * next segment's base.
 */
export function readRawFrames(c: SegmentContext, position: number, maxBytes: number): RawFrames {
  const segLen = c.files.segmentLength;
  const base = c.files.baseOf(position);
  if (position >= c.end) return { bytes: Buffer.alloc(0), nextPosition: position };
  const view = c.cache.get(base);
  if (view === 'tombstone') return { bytes: Buffer.alloc(0), nextPosition: base + segLen };
  if (typeof view === 'string') throw c.cache.unavailable(base, view);
  const from = position - base;
  let off = from;
  let segmentDone = false;
  while (base + off < c.end) {
    const st = checkFrame(view, off, segLen, false);
    if (st === FrameStatus.END_OF_SEGMENT) {
      segmentDone = true;
      break;
    }
    if (st !== FrameStatus.OK) {
      throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `recording ${c.recordingId}, segment ${segmentFileName(c.recordingId, base)}, offset ${off}: ${frameStatusText(st)}`);
    }
    const h = header.wrap(view, off);
    const type = h.frameType();
    const size = type === FrameType.PADDING ? segLen - off : alignFrame(h.frameLength());
    if (off > from && off - from + size > maxBytes) break;
    off += size;
    if (type === FrameType.PADDING) {
      segmentDone = true;
      break;
    }
  }
  if (segLen - off < FRAME_HEADER_LENGTH) segmentDone = true;
  return { bytes: Buffer.from(view.subarray(from, off)), nextPosition: segmentDone ? base + segLen : base + off };
}

/**
 * Checks a copy of segment `base` at `tempPath` (and its deletion log at `deletionLogPath`)
 * against `expectedDigest`, then moves it into place: log first, then the segment by rename
 * (atomic), then the away marker goes. A crash before the marker is removed leaves the copy
 * overridden by the marker, as if it had never been installed.
 *
 * The digest checked is `checked` when the copy's writer gives it and the copy has no deletion
 * log: the summary it computed from the frames it stored, each frame's CRC checked against its
 * bytes in memory before they were written (replication's part files). The file is then not
 * read back: bytes that change on disk after they were written are found as in any stored
 * copy, by the next verification of it (scrubber, start, a reader's CRC check). Otherwise the
 * file is read and every frame's CRC checked here.
 */
export function installSegment(c: SegmentContext, base: number, tempPath: string, expectedDigest: string, deletionLogPath?: string, checked?: SegmentSummary): SegmentSummary {
  checkBase(c, base);
  if (c.liveBase === base) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `segment ${base} of recording ${c.recordingId} is being written`);
  const segLen = c.files.segmentLength;
  let size: number;
  try {
    size = statSync(tempPath).size;
  } catch (err) {
    throw storageError(err, `cannot read ${tempPath}`);
  }
  if (size !== segLen) {
    throw new VcrError(size < segLen ? ErrorCode.SEGMENT_TRUNCATED : ErrorCode.INVALID_ARGUMENT, `${tempPath}: ${size} bytes, a segment of recording ${c.recordingId} has ${segLen}`);
  }
  let log: ReturnType<typeof decodeDeletionLog> = [];
  if (deletionLogPath !== undefined) {
    try {
      log = decodeDeletionLog(c.files, base, readFileSync(deletionLogPath));
    } catch (err) {
      throw storageError(err, `cannot read ${deletionLogPath}`);
    }
  }
  let summary: SegmentSummary;
  if (checked !== undefined && log.length === 0) summary = checked;
  else {
    let fd = -1;
    try {
      fd = openSync(tempPath, 'r');
      const map = mapFile(fd, segLen, false);
      summary = digestSegment(where(c, base), map, Math.max(c.startPosition, base) - base, Number.MAX_SAFE_INTEGER, log);
    } catch (err) {
      throw storageError(err, `cannot check ${tempPath}`);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  if (summary.digest !== expectedDigest) {
    throw new VcrError(ErrorCode.DIGEST_MISMATCH, `${tempPath}: digest ${summary.digest} is not the expected ${expectedDigest} (segment ${base} of recording ${c.recordingId})`);
  }
  try {
    if (deletionLogPath !== undefined) renameSync(deletionLogPath, c.files.deletionLogPath(base));
    else c.files.removeDeletionLog(base); // a stale log would not describe the copy
    renameSync(tempPath, c.files.path(base));
    syncDirectory(c.files.dir);
    c.files.clearAway(base);
    syncDirectory(c.files.dir);
  } catch (err) {
    throw storageError(err, `cannot install segment ${base} of recording ${c.recordingId}`);
  }
  c.cache.invalidate(base);
  return summary;
}

/**
 * Installs a copy of segment `base` whose every frame was deleted (a tombstone elsewhere): the
 * copy is the deletion log at `deletionLogPath` alone. Its digest (from the log, as
 * verifySegment computes a tombstone's) must be `expectedDigest`; then the log moves into
 * place, the tombstone marker is made (a `.rec` there goes) and the away marker goes. A crash
 * after the tombstone marker leaves an installed tombstone (it wins over the away marker); one
 * before leaves the marker winning, as if nothing was installed.
 */
export function installTombstone(c: SegmentContext, base: number, deletionLogPath: string, expectedDigest: string): SegmentSummary {
  checkBase(c, base);
  if (c.liveBase === base) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `segment ${base} of recording ${c.recordingId} is being written`);
  let log: ReturnType<typeof decodeDeletionLog>;
  try {
    log = decodeDeletionLog(c.files, base, readFileSync(deletionLogPath));
  } catch (err) {
    throw storageError(err, `cannot read ${deletionLogPath}`);
  }
  const summary = digestSegment(where(c, base), null, Math.max(c.startPosition, base) - base, Number.MAX_SAFE_INTEGER, log);
  if (summary.digest !== expectedDigest) {
    throw new VcrError(ErrorCode.DIGEST_MISMATCH, `${deletionLogPath}: the tombstone's digest ${summary.digest} is not the expected ${expectedDigest} (segment ${base} of recording ${c.recordingId})`);
  }
  try {
    renameSync(deletionLogPath, c.files.deletionLogPath(base));
    syncDirectory(c.files.dir);
    c.files.tombstone(base);
    c.files.clearAway(base);
    syncDirectory(c.files.dir);
  } catch (err) {
    throw storageError(err, `cannot install the tombstone of segment ${base} of recording ${c.recordingId}`);
  }
  c.cache.invalidate(base);
  return summary;
}

/** Replaces the local copy of segment `base` by an away marker (held by other nodes). */
export function dropSegment(c: SegmentContext, base: number): void {
  checkBase(c, base);
  if (c.liveBase === base) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `segment ${base} of recording ${c.recordingId} is being written`);
  const state = c.files.status(base);
  if (state === 'tombstone' || state === 'away') return;
  try {
    c.files.markAway(base);
  } catch (err) {
    throw storageError(err, `cannot drop segment ${base} of recording ${c.recordingId}`);
  }
  c.cache.invalidate(base);
}

function checkBase(c: SegmentContext, base: number): void {
  const segLen = c.files.segmentLength;
  if (!Number.isSafeInteger(base) || base < c.files.baseOf(c.startPosition) || base % segLen !== 0 || base % FRAME_ALIGNMENT !== 0) {
    throw new VcrError(ErrorCode.INVALID_POSITION, `${base} is not a segment base of recording ${c.recordingId} (segments of ${segLen} bytes)`);
  }
}
