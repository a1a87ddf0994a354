/**
 * The recordings an open archive holds, one entry each (descriptor or the error that keeps it
 * unreadable, its segment files, mapping cache, time index, live writer and the damage found),
 * and what is asked of an entry by position or time: its live descriptor and readable end,
 * seeks through the time index, and whether a position starts a frame.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { readDirectory } from './catalog-rebuild.js';
import { findDamage, type SegmentDamage } from './damage.js';
import { checkFramePosition } from './frame-position.js';
import { FRAME_ALIGNMENT } from './layout.js';
import { FrameCursor, type RecordingEnd } from './recording-reader.js';
import { rebuildIndex } from './recovery.js';
import { SegmentCache } from './segment-cache.js';
import { SegmentFiles } from './segment-files.js';
import type { SegmentContext } from './segment-ops.js';
import { TimeIndex } from './time-index.js';
import type { RecordingDescriptor } from './types.js';

/** A writer that appends to a recording here: the recorder's or a replica's. */
export interface LiveWriter {
  readonly recordingId: number;
  readonly position: number;
  readonly isActive: boolean;
  readonly segmentBase: number;
  snapshot(): RecordingDescriptor;
  commit(): number;
  stop(): RecordingDescriptor;
}

/** Per-recording state held by the archive. */
export interface RecordingEntry {
  id: number;
  descriptor?: RecordingDescriptor;
  error?: VcrError;
  files?: SegmentFiles;
  cache?: SegmentCache;
  index?: TimeIndex;
  writer?: LiveWriter;
  actions: string[];
  damage: SegmentDamage[];
}

export class RecordingTable {
  private readonly entries = new Map<number, RecordingEntry>();

  constructor(
    private readonly dir: string,
    private readonly readOnly: boolean,
    private readonly indexStride: number,
  ) {}

  has(id: number): boolean {
    return this.entries.has(id);
  }

  /** The entry, whatever its state. */
  get(id: number): RecordingEntry | undefined {
    return this.entries.get(id);
  }

  set(e: RecordingEntry): void {
    this.entries.set(e.id, e);
  }

  /** Entries in id order. */
  sorted(): RecordingEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id - b.id);
  }

  /** A readable recording's entry; UNKNOWN_RECORDING, or the error that keeps it unreadable. */
  entry(recordingId: number): RecordingEntry {
    const e = this.entries.get(recordingId);
    if (!e) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `unknown recording ${recordingId}`);
    if (e.error || !e.descriptor) throw e.error ?? new VcrError(ErrorCode.CORRUPT_CATALOG, `recording ${recordingId} cannot be read`);
    if (e.descriptor.state === 'deleted') throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} was deleted`);
    return e;
  }

  /** A new entry for a recording that has its descriptor (and index) ready. */
  add(d: RecordingDescriptor, index: TimeIndex): RecordingEntry {
    const files = new SegmentFiles(this.dir, d.recordingId, d.segmentLength);
    const entry: RecordingEntry = { id: d.recordingId, descriptor: d, files, cache: new SegmentCache(files), index, actions: [], damage: [] };
    this.entries.set(d.recordingId, entry);
    return entry;
  }

  /** The recording's time index from its file, or rebuilt from its segments (and written) if that fails. */
  loadIndex(d: RecordingDescriptor, files: SegmentFiles): TimeIndex {
    try {
      return TimeIndex.load(this.dir, d.recordingId, this.indexStride, Math.max(d.stopPosition, 1));
    } catch {
      const index = rebuildIndex(new SegmentCache(files, 2), d, this.indexStride);
      if (!this.readOnly) index.writeAll(this.dir);
      return index;
    }
  }

  /** Checks the segments of the entry's positions again (after open, install, drop). */
  refreshDamage(e: RecordingEntry, names?: string[]): void {
    const d = e.descriptor;
    if (!d || !e.files || d.state === 'deleted') return;
    e.damage = findDamage(e.files, names ?? readDirectory(this.dir).names, d.startPosition, this.endOf(e).position());
  }

  liveDescriptor(e: RecordingEntry): RecordingDescriptor | undefined {
    if (e.writer) return e.writer.snapshot();
    if (!e.descriptor) return undefined;
    return { ...e.descriptor, aliases: [...e.descriptor.aliases] };
  }

  endOf(e: RecordingEntry): RecordingEnd {
    return {
      position: () => (e.writer && e.writer.isActive ? e.writer.position : (e.writer?.snapshot().stopPosition ?? e.descriptor!.stopPosition)),
      isLive: () => e.writer?.isActive ?? false,
    };
  }

  segmentContext(e: RecordingEntry): SegmentContext {
    const d = this.liveDescriptor(e)!;
    return {
      recordingId: e.id,
      files: e.files!,
      cache: e.cache!,
      startPosition: d.startPosition,
      end: this.endOf(e).position(),
      liveBase: e.writer?.isActive ? e.writer.segmentBase : undefined,
    };
  }

  /** Position of the first event at or after `utcNs` (the end if none); a stale index is rebuilt once. */
  findPosition(e: RecordingEntry, utcNs: bigint): number {
    try {
      return this.seek(e, utcNs);
    } catch (err) {
      if (!(err instanceof VcrError) || err.code !== ErrorCode.CORRUPT_SEGMENT) throw err;
      // an index entry pointing at a non-frame: rebuild the index once and retry
      e.index = rebuildIndex(e.cache!, { ...this.liveDescriptor(e)!, stopPosition: this.endOf(e).position() }, this.indexStride);
      if (!this.readOnly && !e.writer) e.index.writeAll(this.dir);
      return this.seek(e, utcNs);
    }
  }

  /** INVALID_POSITION unless `position` is a frame position of the recording within [start, end]. */
  checkPosition(e: RecordingEntry, position: number, end: number): void {
    const d = this.liveDescriptor(e)!;
    if (!Number.isSafeInteger(position) || position < d.startPosition || position > end || position % FRAME_ALIGNMENT !== 0) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `position ${position} is not a frame position of recording ${e.id} (${d.startPosition}..${end})`);
    }
    checkFramePosition({ recordingId: e.id, source: e.cache!, index: e.index, startPosition: d.startPosition, endPosition: end }, position);
  }

  private seek(e: RecordingEntry, utcNs: bigint): number {
    const d = this.liveDescriptor(e)!;
    const end = this.endOf(e).position();
    const from = e.index!.floorBefore(utcNs);
    const cursor = new FrameCursor(e.id, e.cache!, from < 0 ? d.startPosition : from, false);
    while (cursor.next(end)) if (cursor.utcNs >= utcNs) return cursor.framePosition;
    return end;
  }
}
