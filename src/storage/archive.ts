/**
 * An archive directory: catalog, recordings (segments, metadata, time index), holds and the
 * mark file. `Archive.open` locks the directory (unless read-only) and recovers every
 * recording that was not cleanly stopped; then it hands out writers for new recordings and
 * readers over stored ones. Single-threaded: the archiver calls everything from its duty
 * cycle, and `doWork()` commits live writers and refreshes the mark's heartbeat.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { Catalog } from './catalog.js';
import { checkDescriptorFits } from './descriptor-codec.js';
import { applyDeletion, type DeletionTarget } from './deleter.js';
import { readHolds, writeHolds, type HoldsData } from './holds-file.js';
import { storageError } from './io-errors.js';
import { DEFAULT_INDEX_STRIDE, DEFAULT_SEGMENT_LENGTH, FRAME_ALIGNMENT, isValidSegmentLength } from './layout.js';
import { MarkFile } from './mark-file.js';
import { MergedReader } from './merged-reader.js';
import { MetadataFile, writeMetadataFile } from './metadata-file.js';
import { FrameCursor, RecordingReader, type RecordingEnd } from './recording-reader.js';
import { RecordingWriter } from './recording-writer.js';
import { loadRecording, rebuildIndex } from './recovery.js';
import { SegmentCache } from './segment-cache.js';
import { SegmentFiles } from './segment-files.js';
import { TimeIndex } from './time-index.js';
import { systemClock, type QuarantineHold, type RecordingDescriptor, type StorageClock } from './types.js';

export interface ArchiveOptions {
  /** Segment length for new recordings: a power of two, 64 KiB..1 GiB (default 64 MiB). */
  segmentLength?: number;
  /** 0 page cache only, 1 msync data every syncIntervalMs, 2 msync data and metadata at every commit. */
  fileSyncLevel?: 0 | 1 | 2;
  syncIntervalMs?: number;
  clock?: StorageClock;
  /** Open without locking or repairing (inspection while an archiver runs, or of a stopped one). */
  readOnly?: boolean;
  /** Bytes of positions per time index entry (default 4096). */
  indexStride?: number;
  /** A mark whose heartbeat is older than this is stale even if its pid exists (default 10 s). */
  markStaleMs?: number;
}

export interface NewRecording {
  channel: string;
  aliases?: string[];
  source: string;
  startUtcNs: bigint;
  startMonoNs: bigint;
}

export interface RecordingFilter {
  channel?: string;
  lifecycle?: RecordingDescriptor['lifecycle'];
  /** Recordings overlapping [fromUtcNs, toUtcNs). */
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
}

/** Per-recording state held by the archive. */
export interface RecordingEntry {
  id: number;
  descriptor?: RecordingDescriptor;
  error?: VcrError;
  files?: SegmentFiles;
  cache?: SegmentCache;
  index?: TimeIndex;
  writer?: RecordingWriter;
  actions: string[];
}

export class Archive {
  private readonly recordings = new Map<number, RecordingEntry>();
  private holds: HoldsData;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly readOnly: boolean,
    private readonly catalog: Catalog,
    private readonly mark: MarkFile | undefined,
    private readonly opts: Required<Omit<ArchiveOptions, 'readOnly'>>,
  ) {
    this.holds = readHolds(dir);
  }

  static open(dir: string, options: ArchiveOptions = {}): Archive {
    const opts = {
      segmentLength: options.segmentLength ?? DEFAULT_SEGMENT_LENGTH,
      fileSyncLevel: options.fileSyncLevel ?? 0,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      clock: options.clock ?? systemClock,
      indexStride: options.indexStride ?? DEFAULT_INDEX_STRIDE,
      markStaleMs: options.markStaleMs ?? 10_000,
    };
    if (!isValidSegmentLength(opts.segmentLength)) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `segment length ${opts.segmentLength} must be a power of two between 64 KiB and 1 GiB`);
    }
    if (![0, 1, 2].includes(opts.fileSyncLevel)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `fileSyncLevel must be 0, 1 or 2`);
    if (!Number.isInteger(opts.indexStride) || opts.indexStride < 64 || (opts.indexStride & (opts.indexStride - 1)) !== 0) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `indexStride must be a power of two >= 64`);
    }
    const readOnly = options.readOnly ?? false;
    if (!readOnly) {
      try {
        mkdirSync(dir, { recursive: true });
        accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
      } catch (err) {
        throw storageError(err, `archive directory ${dir}`);
      }
    }
    const mark = readOnly ? undefined : MarkFile.acquire(dir, opts.clock, opts.markStaleMs);
    let catalog: Catalog | undefined;
    try {
      catalog = Catalog.open(dir, { readOnly, syncWrites: opts.fileSyncLevel > 0 });
      const archive = new Archive(dir, readOnly, catalog, mark, opts);
      archive.loadAll();
      return archive;
    } catch (err) {
      catalog?.close();
      mark?.release();
      throw err;
    }
  }

  /** What open did to each recording (recovery, rebuilt files), for logs and `vcr catalog recover`. */
  recoveryActions(): { recordingId: number; actions: string[] }[] {
    const out: { recordingId: number; actions: string[] }[] = [];
    for (const e of this.recordings.values()) if (e.actions.length > 0) out.push({ recordingId: e.id, actions: [...e.actions] });
    return out;
  }

  createRecording(r: NewRecording): RecordingWriter {
    this.requireWritable();
    const aliases = r.aliases ?? [];
    if (typeof r.channel !== 'string' || r.channel.length === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a recording needs a channel name');
    checkDescriptorFits({ channel: r.channel, aliases, source: r.source });
    const id = this.catalog.allocate();
    const d: RecordingDescriptor = {
      recordingId: id,
      state: 'valid',
      lifecycle: 'recording',
      failureCode: 0,
      startPosition: 0,
      stopPosition: 0,
      startUtcNs: r.startUtcNs,
      stopUtcNs: r.startUtcNs,
      startMonoNs: r.startMonoNs,
      stopMonoNs: r.startMonoNs,
      eventCount: 0,
      segmentLength: this.opts.segmentLength,
      cleanStop: false,
      channel: r.channel,
      aliases: [...aliases],
      source: r.source,
    };
    const files = new SegmentFiles(this.dir, id, d.segmentLength);
    const index = new TimeIndex(id, this.opts.indexStride);
    try {
      writeMetadataFile(this.dir, d);
      this.catalog.write(d);
    } catch (err) {
      this.catalog.unallocate(id);
      throw err;
    }
    const entry: RecordingEntry = { id, descriptor: d, files, cache: new SegmentCache(files), index, actions: [] };
    this.recordings.set(id, entry);
    let writer: RecordingWriter;
    try {
      index.writeAll(this.dir);
      writer = new RecordingWriter(d, files, MetadataFile.openMapped(this.dir, id), index, this.catalog, this.opts, (w) => {
        if (entry.writer === w) entry.writer = undefined;
      });
    } catch (err) {
      // e.g. no room for the first segment: the recording exists, failed, with nothing in it
      const e = storageError(err, `recording ${id}`);
      Object.assign(d, { lifecycle: 'failed', failureCode: e.code });
      try {
        this.catalog.write(d);
        writeMetadataFile(this.dir, d);
      } catch {
        // recovery at the next open finishes it
      }
      throw e;
    }
    entry.writer = writer;
    return writer;
  }

  /** Commits every live writer (a failing one is marked FAILED, not thrown) and refreshes the mark heartbeat. */
  doWork(): number {
    let work = 0;
    this.mark?.heartbeat();
    for (const e of this.recordings.values()) {
      if (!e.writer) continue;
      try {
        work += e.writer.commit();
      } catch {
        // the writer is now FAILED and keeps its error (writer.error); the others go on
        work++;
      }
    }
    return work;
  }

  listRecordings(filter: RecordingFilter = {}): RecordingDescriptor[] {
    const out: RecordingDescriptor[] = [];
    for (const e of [...this.recordings.values()].sort((a, b) => a.id - b.id)) {
      const d = this.liveDescriptor(e);
      if (!d || d.state === 'deleted') continue;
      if (filter.channel !== undefined && d.channel !== filter.channel && !d.aliases.includes(filter.channel)) continue;
      if (filter.lifecycle !== undefined && d.lifecycle !== filter.lifecycle) continue;
      if (filter.toUtcNs !== undefined && d.startUtcNs >= filter.toUtcNs) continue;
      if (filter.fromUtcNs !== undefined && d.stopUtcNs < filter.fromUtcNs && d.lifecycle !== 'recording') continue;
      out.push(d);
    }
    return out;
  }

  /** Recordings that could not be loaded (corrupt descriptor and metadata), with the reason. */
  damagedRecordings(): { recordingId: number; error: VcrError }[] {
    const out: { recordingId: number; error: VcrError }[] = [];
    for (const e of this.recordings.values()) if (e.error) out.push({ recordingId: e.id, error: e.error });
    return out;
  }

  describe(recordingId: number): RecordingDescriptor {
    const e = this.entry(recordingId);
    return this.liveDescriptor(e)!;
  }

  /** Reader from `position` (default: start) for `length` bytes, or to the end; `follow` keeps reading a live recording. */
  openReader(recordingId: number, opts: { position?: number; length?: number; follow?: boolean; verifyCrc?: boolean } = {}): RecordingReader {
    const e = this.entry(recordingId);
    const d = this.liveDescriptor(e)!;
    const end = this.endOf(e);
    const position = opts.position ?? d.startPosition;
    if (!Number.isSafeInteger(position) || position < d.startPosition || position > end.position() || position % FRAME_ALIGNMENT !== 0) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `position ${position} is not a frame position of recording ${recordingId} (${d.startPosition}..${end.position()})`);
    }
    if (opts.length !== undefined && (!Number.isSafeInteger(opts.length) || opts.length < 0)) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `length ${opts.length} is not valid`);
    }
    return new RecordingReader(recordingId, e.cache!, end, position, opts.length, opts.follow ?? false, opts.verifyCrc ?? false);
  }

  /** Position of the first event at or after `utcNs` (the recording's end if none), via the time index. */
  findPosition(recordingId: number, utcNs: bigint): number {
    const e = this.entry(recordingId);
    try {
      return this.seek(e, utcNs);
    } catch (err) {
      if (!(err instanceof VcrError) || err.code !== ErrorCode.CORRUPT_SEGMENT) throw err;
      // an index entry pointing at a non-frame: rebuild the index once and retry
      e.index = rebuildIndex(e.cache!, { ...this.liveDescriptor(e)!, stopPosition: this.endOf(e).position() }, this.opts.indexStride);
      if (!this.readOnly && !e.writer) e.index.writeAll(this.dir);
      return this.seek(e, utcNs);
    }
  }

  /** Events of the given recordings in [fromUtcNs, toUtcNs), merged in timestamp order. */
  openMergedReader(inputs: { recordingId: number }[], fromUtcNs: bigint, toUtcNs: bigint): MergedReader {
    const ids = [...new Set(inputs.map((i) => i.recordingId))];
    const merge = ids.map((id) => {
      const e = this.entry(id);
      const start = this.findPosition(id, fromUtcNs);
      return { cursor: new FrameCursor(id, e.cache!, start, false), limit: this.endOf(e).position() };
    });
    return new MergedReader(merge, toUtcNs);
  }

  addQuarantine(q: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): number {
    this.requireWritable();
    checkInterval(q.fromUtcNs, q.toUtcNs);
    const id = this.holds.nextId;
    const hold: QuarantineHold = { id, fromUtcNs: q.fromUtcNs, toUtcNs: q.toUtcNs };
    if (q.channel !== undefined) hold.channel = q.channel;
    this.saveHolds({ ...this.holds, nextId: id + 1, quarantines: [...this.holds.quarantines, hold] });
    return id;
  }

  removeQuarantine(id: number): boolean {
    this.requireWritable();
    const rest = this.holds.quarantines.filter((q) => q.id !== id);
    if (rest.length === this.holds.quarantines.length) return false;
    this.saveHolds({ ...this.holds, quarantines: rest });
    return true;
  }

  listQuarantines(): QuarantineHold[] {
    return this.holds.quarantines.map((q) => ({ ...q }));
  }

  listDeletions(): HoldsData['deletions'] {
    return this.holds.deletions.map((d) => ({ ...d }));
  }

  /**
   * Deletes the events of `channel` (or all) in [fromUtcNs, toUtcNs) that no quarantine
   * covers. The deletion is recorded first and completed after, so a crash in between is
   * finished by the next open.
   */
  deleteEvents(req: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): { framesDeleted: number; bytesReclaimed: number } {
    this.requireWritable();
    checkInterval(req.fromUtcNs, req.toUtcNs);
    const id = this.holds.nextId;
    const record = { id, fromUtcNs: req.fromUtcNs, toUtcNs: req.toUtcNs, framesDeleted: -1, bytesReclaimed: 0, ...(req.channel !== undefined ? { channel: req.channel } : {}) };
    this.saveHolds({ ...this.holds, nextId: id + 1, deletions: [...this.holds.deletions, record] });
    const result = this.runDeletion(req);
    this.saveHolds({ ...this.holds, deletions: this.holds.deletions.map((d) => (d.id === id ? { ...d, ...result } : d)) });
    return result;
  }

  /** Stops live writers and releases the directory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.recordings.values()) e.writer?.stop();
    this.catalog.close();
    this.mark?.release();
  }

  // ---- internals --------------------------------------------------------------------

  private loadAll(): void {
    for (let id = 0; id < this.catalog.nextRecordingId; id++) {
      const loaded = loadRecording(this.dir, this.catalog, this.catalog.read(id), { repair: !this.readOnly, stride: this.opts.indexStride });
      const entry: RecordingEntry = { id, actions: loaded.actions };
      if (loaded.descriptor) entry.descriptor = loaded.descriptor;
      if (loaded.error) entry.error = loaded.error;
      if (loaded.files) {
        entry.files = loaded.files;
        entry.cache = new SegmentCache(loaded.files);
      }
      if (loaded.index) entry.index = loaded.index;
      this.recordings.set(id, entry);
    }
    if (!this.readOnly) {
      for (const d of this.holds.deletions) {
        if (d.framesDeleted >= 0) continue;
        const result = this.runDeletion(d);
        this.saveHolds({ ...this.holds, deletions: this.holds.deletions.map((x) => (x.id === d.id ? { ...x, ...result } : x)) });
      }
    }
  }

  private runDeletion(req: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): { framesDeleted: number; bytesReclaimed: number } {
    let framesDeleted = 0;
    let bytesReclaimed = 0;
    for (const e of this.recordings.values()) {
      const d = this.liveDescriptor(e);
      if (!d || !e.files || !e.index || d.state !== 'valid') continue;
      if (req.channel !== undefined && d.channel !== req.channel && !d.aliases.includes(req.channel)) continue;
      const holds = this.holds.quarantines.filter((q) => q.channel === undefined || q.channel === d.channel || d.aliases.includes(q.channel));
      const target: DeletionTarget = {
        recordingId: e.id,
        files: e.files,
        index: e.index,
        end: this.endOf(e).position(),
        activeBase: e.writer ? e.files.baseOf(e.writer.position) : Number.MAX_SAFE_INTEGER,
        seek: (utc) => this.findPosition(e.id, utc),
      };
      const r = applyDeletion(target, req.fromUtcNs, req.toUtcNs, holds);
      e.cache!.invalidate();
      if (r.framesDeleted > 0 && !e.writer) e.index.writeAll(this.dir);
      framesDeleted += r.framesDeleted;
      bytesReclaimed += r.bytesReclaimed;
    }
    return { framesDeleted, bytesReclaimed };
  }

  private seek(e: RecordingEntry, utcNs: bigint): number {
    const d = this.liveDescriptor(e)!;
    const end = this.endOf(e).position();
    const from = e.index!.floorBefore(utcNs);
    const cursor = new FrameCursor(e.id, e.cache!, from < 0 ? d.startPosition : from, false);
    while (cursor.next(end)) if (cursor.utcNs >= utcNs) return cursor.framePosition;
    return end;
  }

  private saveHolds(h: HoldsData): void {
    writeHolds(this.dir, h);
    this.holds = h;
  }

  private entry(recordingId: number): RecordingEntry {
    const e = this.recordings.get(recordingId);
    if (!e) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `unknown recording ${recordingId}`);
    if (e.error || !e.descriptor) throw e.error ?? new VcrError(ErrorCode.CORRUPT_CATALOG, `recording ${recordingId} cannot be read`);
    if (e.descriptor.state === 'deleted') throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} was deleted`);
    return e;
  }

  private liveDescriptor(e: RecordingEntry): RecordingDescriptor | undefined {
    if (e.writer) return e.writer.snapshot();
    if (!e.descriptor) return undefined;
    return { ...e.descriptor, aliases: [...e.descriptor.aliases] };
  }

  private endOf(e: RecordingEntry): RecordingEnd {
    return {
      position: () => (e.writer && e.writer.isActive ? e.writer.position : (e.writer?.snapshot().stopPosition ?? e.descriptor!.stopPosition)),
      isLive: () => e.writer?.isActive ?? false,
    };
  }

  private requireWritable(): void {
    if (this.closed) throw new VcrError(ErrorCode.GENERIC, 'archive is closed');
    if (this.readOnly) throw new VcrError(ErrorCode.NOT_ALLOWED, `archive ${this.dir} is open read-only`);
  }
}

function checkInterval(from: bigint, to: bigint): void {
  if (typeof from !== 'bigint' || typeof to !== 'bigint' || from >= to) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `interval [${String(from)}, ${String(to)}) is empty or not nanoseconds`);
  }
}
