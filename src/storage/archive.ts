/**
 * An archive directory: catalog, recordings (segments, metadata, time index), holds and the
 * mark file. `Archive.open` locks the directory (unless read-only), rebuilds a lost catalog
 * from the metadata files, recovers every recording that was not cleanly stopped and reports
 * damaged segments; then it hands out writers for new recordings and readers over stored ones.
 * Single-threaded: the archiver calls everything from its duty cycle, and `doWork()` commits
 * live writers and refreshes the mark's heartbeat.
 *
 * The seams a cluster builds on are here too (docs/FORMAT.md): segment states, listing,
 * digests, raw frame streaming, install and drop of segment copies, replica writers, ids
 * given by the caller, descriptors of recordings made elsewhere, and deletions decided
 * elsewhere; ids, quarantines and the deletion ledger sit behind the interfaces of stores.ts.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { Catalog } from './catalog.js';
import { checkRebuildable, readDirectory, type DirectoryFiles } from './catalog-rebuild.js';
import { findDamage, settleAwayMarkers, type SegmentDamage } from './damage.js';
import { checkDescriptorFits } from './descriptor-codec.js';
import { applyDeletion, type DeletionTarget } from './deleter.js';
import type { SegmentSummary } from './digest.js';
import { checkFramePosition } from './frame-position.js';
import { storageError } from './io-errors.js';
import { DEFAULT_INDEX_STRIDE, DEFAULT_SEGMENT_LENGTH, FRAME_ALIGNMENT, FrameType, isValidSegmentLength } from './layout.js';
import { MarkFile } from './mark-file.js';
import { MergedReader } from './merged-reader.js';
import { MetadataFile, writeMetadataFile } from './metadata-file.js';
import { FrameCursor, RecordingReader, type RecordingEnd } from './recording-reader.js';
import { RecordingWriter } from './recording-writer.js';
import { loadRecording, rebuildIndex } from './recovery.js';
import { ReplicaWriter } from './replica-writer.js';
import { scanForward } from './scan.js';
import { SegmentCache } from './segment-cache.js';
import { SegmentFiles } from './segment-files.js';
import * as ops from './segment-ops.js';
import { CatalogIds, LocalHolds, type DeletionLedger, type QuarantineStore, type RecordingIdAllocator } from './stores.js';
import { TimeIndex } from './time-index.js';
import { systemClock, type DeletionRecord, type HoldInterval, type QuarantineHold, type RecordingDescriptor, type SealedSegment, type StorageClock } from './types.js';
import { usageOf } from './usage.js';

export type { SegmentDamage } from './damage.js';
export type { SegmentListing, RawFrames } from './segment-ops.js';
export type { SegmentSummary } from './digest.js';

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
  /** Hears each segment a writer completes (rolled past, or the recording stopped); must not throw. */
  onSegmentSealed?: (s: SealedSegment) => void;
  /** Where new recording ids come from (default: the catalog's dense local sequence). */
  recordingIds?: (catalog: Catalog) => RecordingIdAllocator;
  /** Where quarantine holds live (default: holds.dat). */
  quarantines?: QuarantineStore;
  /** Where deletions are recorded (default: holds.dat). */
  deletions?: DeletionLedger;
}

export interface NewRecording {
  channel: string;
  aliases?: string[];
  source: string;
  startUtcNs: bigint;
  startMonoNs: bigint;
  /** An id given by the caller (cluster-allocated); refused if a recording or files have it. */
  recordingId?: number;
}

export interface RecordingFilter {
  channel?: string;
  lifecycle?: RecordingDescriptor['lifecycle'];
  /** Recordings overlapping [fromUtcNs, toUtcNs). */
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
}

export interface DeleteRequest {
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** The holds to respect (decided elsewhere); default: the quarantines held now. */
  holds?: HoldInterval[];
  /** An id given by the caller: a deletion with this id already applied here is not applied again. */
  deletionId?: number;
}

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

type Options = Required<Omit<ArchiveOptions, 'readOnly' | 'onSegmentSealed' | 'recordingIds' | 'quarantines' | 'deletions'>> & {
  onSegmentSealed: ArchiveOptions['onSegmentSealed'];
};

const SEGMENT_ERRORS: readonly number[] = [ErrorCode.SEGMENT_ELSEWHERE, ErrorCode.SEGMENT_MISSING, ErrorCode.SEGMENT_TRUNCATED];

export class Archive {
  private readonly recordings = new Map<number, RecordingEntry>();
  private closed = false;
  private readonly ids: RecordingIdAllocator;
  private readonly quarantineStore: QuarantineStore;
  private readonly ledger: DeletionLedger;

  private constructor(
    readonly dir: string,
    readonly readOnly: boolean,
    private readonly catalog: Catalog,
    private readonly mark: MarkFile | undefined,
    private readonly opts: Options,
    options: ArchiveOptions,
  ) {
    const local = options.quarantines && options.deletions ? undefined : new LocalHolds(dir);
    this.quarantineStore = options.quarantines ?? local!;
    this.ledger = options.deletions ?? local!;
    this.ids = options.recordingIds ? options.recordingIds(catalog) : new CatalogIds(catalog);
  }

  static open(dir: string, options: ArchiveOptions = {}): Archive {
    const opts: Options = {
      segmentLength: options.segmentLength ?? DEFAULT_SEGMENT_LENGTH,
      fileSyncLevel: options.fileSyncLevel ?? 0,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      clock: options.clock ?? systemClock,
      indexStride: options.indexStride ?? DEFAULT_INDEX_STRIDE,
      markStaleMs: options.markStaleMs ?? 10_000,
      onSegmentSealed: options.onSegmentSealed,
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
    // before anything is written: can the catalog describe every recording whose data is here?
    const files = readDirectory(dir);
    checkRebuildable(dir, files, Catalog.inspect(dir).covered);
    const mark = readOnly ? undefined : MarkFile.acquire(dir, opts.clock, opts.markStaleMs);
    let catalog: Catalog | undefined;
    try {
      catalog = Catalog.open(dir, { readOnly, syncWrites: opts.fileSyncLevel > 0 });
      // an id with files on disk is never handed out again
      catalog.reserveBelow(files.maxId + 1);
      const archive = new Archive(dir, readOnly, catalog, mark, opts, options);
      archive.loadAll(files);
      return archive;
    } catch (err) {
      catalog?.close();
      mark?.release();
      throw err;
    }
  }

  /** Archive-level repairs open made (catalog rebuilt or migrated), for logs and `vcr catalog recover`. */
  openActions(): string[] {
    return [...this.catalog.actions];
  }

  /** What open did to each recording (recovery, rebuilt files), for logs and `vcr catalog recover`. */
  recoveryActions(): { recordingId: number; actions: string[] }[] {
    const out: { recordingId: number; actions: string[] }[] = [];
    for (const e of this.sorted()) if (e.actions.length > 0) out.push({ recordingId: e.id, actions: [...e.actions] });
    return out;
  }

  /** Damaged segments (missing or truncated files) of the recordings, as found at open or after a segment change. */
  damage(): SegmentDamage[] {
    return this.sorted().flatMap((e) => e.damage.map((d) => ({ ...d })));
  }

  /** Recordings that could not be loaded (corrupt descriptor and metadata), with the reason. */
  damagedRecordings(): { recordingId: number; error: VcrError }[] {
    const out: { recordingId: number; error: VcrError }[] = [];
    for (const e of this.sorted()) if (e.error) out.push({ recordingId: e.id, error: e.error });
    return out;
  }

  createRecording(r: NewRecording): RecordingWriter {
    this.requireWritable();
    const aliases = r.aliases ?? [];
    if (typeof r.channel !== 'string' || r.channel.length === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a recording needs a channel name');
    checkDescriptorFits({ channel: r.channel, aliases, source: r.source });
    if (r.recordingId !== undefined) this.requireFreeId(r.recordingId);
    const id = r.recordingId ?? this.ids.allocate();
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
    try {
      writeMetadataFile(this.dir, d);
      this.catalog.write(d);
    } catch (err) {
      if (r.recordingId === undefined) this.ids.release(id);
      throw err;
    }
    const entry = this.newEntry(d, new TimeIndex(id, this.opts.indexStride));
    let writer: RecordingWriter;
    try {
      entry.index!.writeAll(this.dir);
      writer = new RecordingWriter(d, entry.files!, MetadataFile.openMapped(this.dir, id), entry.index!, this.catalog, this.opts, (w) => {
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

  /**
   * Upserts the descriptor of a recording made elsewhere (catalog and metadata file, lifecycle
   * as given). Segment positions it covers with no local file get an away marker unless
   * `markAway` is false, so they read as held elsewhere, not as damage.
   */
  installDescriptor(d: RecordingDescriptor, opts: { markAway?: boolean } = {}): void {
    this.requireWritable();
    const id = d.recordingId;
    if (!Number.isSafeInteger(id) || id < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is not valid`);
    if (!isValidSegmentLength(d.segmentLength)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `segment length ${d.segmentLength} is not valid`);
    checkDescriptorFits(d);
    const existing = this.recordings.get(id);
    if (existing?.writer) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${id} is being written here`);
    if (existing?.descriptor && existing.descriptor.segmentLength !== d.segmentLength) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording ${id} has segments of ${existing.descriptor.segmentLength} bytes here, not ${d.segmentLength}`);
    }
    const copy: RecordingDescriptor = { ...d, aliases: [...d.aliases] };
    writeMetadataFile(this.dir, copy);
    this.catalog.write(copy);
    const files = new SegmentFiles(this.dir, id, copy.segmentLength);
    if (opts.markAway ?? true) {
      for (let base = files.baseOf(copy.startPosition); base < copy.stopPosition; base += copy.segmentLength) {
        if (files.status(base) === 'missing') files.markAway(base);
      }
    }
    const entry = existing?.descriptor ? existing : this.newEntry(copy, this.loadIndex(copy, files));
    entry.descriptor = copy;
    delete entry.error;
    entry.cache!.invalidate();
    this.refreshDamage(entry);
  }

  /**
   * A writer for the frames of a recording made elsewhere (see ReplicaWriter). The recording is
   * created here from `d` if it is not known yet; otherwise the replica continues where the
   * local frames end.
   */
  openReplica(d: RecordingDescriptor): ReplicaWriter {
    this.requireWritable();
    const id = d.recordingId;
    let entry = this.recordings.get(id);
    if (entry?.writer) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${id} is being written here`);
    if (!entry?.descriptor) {
      this.installDescriptor({ ...d, lifecycle: 'recording', cleanStop: false, stopPosition: d.startPosition, eventCount: 0, stopUtcNs: d.startUtcNs, stopMonoNs: d.startMonoNs }, { markAway: false });
      entry = this.recordings.get(id)!;
    }
    const local = entry.descriptor!;
    const files = entry.files!;
    let resume = local.stopPosition;
    const base = files.baseOf(resume);
    // frames the metadata counts in a segment that is not here (an interrupted create) are not here
    if (resume !== base && files.status(base) !== 'present') resume = base;
    const live: RecordingDescriptor = { ...local, aliases: [...local.aliases], lifecycle: 'recording', cleanStop: false, stopPosition: resume };
    entry.index!.truncateFrom(resume);
    entry.index!.writeAll(this.dir);
    writeMetadataFile(this.dir, live);
    this.catalog.write(live);
    entry.descriptor = live;
    const e = entry;
    const writer = new ReplicaWriter(live, files, MetadataFile.openMapped(this.dir, id), e.index!, this.catalog, this.opts, (w) => {
      if (e.writer === w) e.writer = undefined;
      e.descriptor = w.snapshot();
    });
    e.writer = writer;
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
    for (const e of this.sorted()) {
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
    this.checkPosition(e, d, position, end.position());
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

  // ---- segments (replication seams) ---------------------------------------------------

  /** The recording's segment positions and their local states; `end` on the segment holding the recording's end. */
  listSegments(recordingId: number): ops.SegmentListing[] {
    return ops.listSegments(this.segmentContext(this.entry(recordingId)));
  }

  /** The live segment of a recording being written here: its base and the write position. */
  openSegmentInfo(recordingId: number): { base: number; position: number } | undefined {
    const w = this.entry(recordingId).writer;
    return w?.isActive ? { base: w.segmentBase, position: w.position } : undefined;
  }

  /** Recomputes a local segment's digest (frames checked against their CRCs, deletion log merged). */
  verifySegment(recordingId: number, base: number): SegmentSummary {
    return ops.verifySegment(this.segmentContext(this.entry(recordingId)), base);
  }

  /** Whole frames as stored from a frame position, about `maxBytes` of them, never past the live end or the segment. */
  readRawFrames(recordingId: number, position: number, maxBytes: number): ops.RawFrames {
    const e = this.entry(recordingId);
    const d = this.liveDescriptor(e)!;
    const c = this.segmentContext(e);
    this.checkPosition(e, d, position, c.end);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxBytes ${maxBytes} is not valid`);
    return ops.readRawFrames(c, position, maxBytes);
  }

  /** Installs a verified copy of a segment (see segment-ops installSegment) and brings index and damage report up to date. */
  installSegment(recordingId: number, base: number, tempPath: string, expectedDigest: string, opts: { deletionLogPath?: string } = {}): SegmentSummary {
    this.requireWritable();
    const e = this.entry(recordingId);
    const c = this.segmentContext(e);
    const summary = ops.installSegment(c, base, tempPath, expectedDigest, opts.deletionLogPath);
    const fresh: { utcNs: bigint; position: number }[] = [];
    scanForward(e.cache!, Math.max(base, c.startPosition), {
      verifyCrc: false,
      limit: Math.min(base + e.files!.segmentLength, Math.max(c.end, summary.end)),
      onFrame: (type, position, _b, _o, _l, utcNs) => {
        if (type !== FrameType.PADDING) fresh.push({ utcNs, position });
      },
    });
    e.index!.replaceRange(base, base + e.files!.segmentLength, fresh);
    if (!e.writer) e.index!.writeAll(this.dir);
    this.reapplyDeletions(e, summary);
    this.refreshDamage(e);
    return summary;
  }

  /** Drops the local copy of a segment (held by other nodes from now on). */
  dropSegment(recordingId: number, base: number): void {
    this.requireWritable();
    const e = this.entry(recordingId);
    ops.dropSegment(this.segmentContext(e), base);
    this.refreshDamage(e);
  }

  /** Segment files in the directory and their bytes. */
  usage(): { segments: number; bytes: number } {
    return usageOf(this.dir);
  }

  // ---- holds and deletions ------------------------------------------------------------

  addQuarantine(q: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): number {
    this.requireWritable();
    checkInterval(q.fromUtcNs, q.toUtcNs);
    return this.quarantineStore.addQuarantine(q);
  }

  removeQuarantine(id: number): boolean {
    this.requireWritable();
    return this.quarantineStore.removeQuarantine(id);
  }

  listQuarantines(): QuarantineHold[] {
    return this.quarantineStore.quarantines();
  }

  listDeletions(): DeletionRecord[] {
    return this.ledger.deletions();
  }

  /**
   * Deletes the events of `channel` (or all) in [fromUtcNs, toUtcNs) that no hold covers: the
   * given holds, or the quarantines held now. The deletion is recorded first and completed
   * after, so a crash in between is finished by the next open. With a `deletionId` that was
   * already applied here, nothing happens (`alreadyApplied`).
   */
  deleteEvents(req: DeleteRequest): { framesDeleted: number; bytesReclaimed: number; alreadyApplied?: boolean } {
    this.requireWritable();
    checkInterval(req.fromUtcNs, req.toUtcNs);
    for (const h of req.holds ?? []) checkInterval(h.fromUtcNs, h.toUtcNs);
    if (req.deletionId !== undefined) {
      if (!Number.isSafeInteger(req.deletionId)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `deletion id ${req.deletionId} is not valid`);
      const done = this.ledger.findExternal(req.deletionId);
      if (done && done.framesDeleted >= 0) return { framesDeleted: done.framesDeleted, bytesReclaimed: done.bytesReclaimed, alreadyApplied: true };
    }
    const record = this.ledger.begin({
      ...(req.deletionId !== undefined ? { id: req.deletionId } : {}),
      ...(req.channel !== undefined ? { channel: req.channel } : {}),
      fromUtcNs: req.fromUtcNs,
      toUtcNs: req.toUtcNs,
      ...(req.holds !== undefined ? { holds: req.holds } : {}),
    });
    const result = this.runDeletion(record);
    this.ledger.complete(record, result);
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

  private loadAll(files: DirectoryFiles): void {
    for (let id = 0; id < this.catalog.nextRecordingId; id++) {
      const slot = this.catalog.read(id);
      const onDisk = files.byRecording.get(id);
      if (!slot.ok && slot.empty === true && !onDisk) continue; // an id this node never had
      const loaded = loadRecording(this.dir, this.catalog, slot, { repair: !this.readOnly, stride: this.opts.indexStride });
      if (loaded.absent === true && !onDisk?.hasSegments) continue;
      const entry: RecordingEntry = { id, actions: loaded.actions, damage: [] };
      if (loaded.descriptor) entry.descriptor = loaded.descriptor;
      if (loaded.error) entry.error = loaded.error;
      if (loaded.files) {
        entry.files = loaded.files;
        entry.cache = new SegmentCache(loaded.files);
        entry.actions.push(...settleAwayMarkers(loaded.files, onDisk?.names ?? [], !this.readOnly));
      }
      if (loaded.index) entry.index = loaded.index;
      this.recordings.set(id, entry);
      this.refreshDamage(entry, files.names);
    }
    if (!this.readOnly) {
      for (const d of this.ledger.deletions()) {
        if (d.framesDeleted >= 0) continue;
        this.ledger.complete(d, this.runDeletion(d));
      }
    }
  }

  private newEntry(d: RecordingDescriptor, index: TimeIndex): RecordingEntry {
    const files = new SegmentFiles(this.dir, d.recordingId, d.segmentLength);
    const entry: RecordingEntry = { id: d.recordingId, descriptor: d, files, cache: new SegmentCache(files), index, actions: [], damage: [] };
    this.recordings.set(d.recordingId, entry);
    return entry;
  }

  private loadIndex(d: RecordingDescriptor, files: SegmentFiles): TimeIndex {
    try {
      return TimeIndex.load(this.dir, d.recordingId, this.opts.indexStride, Math.max(d.stopPosition, 1));
    } catch {
      const index = rebuildIndex(new SegmentCache(files, 2), d, this.opts.indexStride);
      index.writeAll(this.dir);
      return index;
    }
  }

  private refreshDamage(e: RecordingEntry, names?: string[]): void {
    const d = e.descriptor;
    if (!d || !e.files || d.state === 'deleted') return;
    e.damage = findDamage(e.files, names ?? readDirectory(this.dir).names, d.startPosition, this.endOf(e).position());
  }

  private requireFreeId(id: number): void {
    if (!Number.isSafeInteger(id) || id < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is not valid`);
    const slot = id < this.catalog.nextRecordingId ? this.catalog.read(id) : undefined;
    const inUse = this.recordings.has(id) || (slot !== undefined && !(slot.ok === false && slot.empty === true)) || readDirectory(this.dir).byRecording.has(id);
    if (inUse) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is in use in ${this.dir} (its catalog slot or files exist)`);
  }

  private runDeletion(req: DeletionRecord): { framesDeleted: number; bytesReclaimed: number } {
    let framesDeleted = 0;
    let bytesReclaimed = 0;
    for (const e of this.sorted()) {
      const r = this.deleteIn(e, req);
      framesDeleted += r.framesDeleted;
      bytesReclaimed += r.bytesReclaimed;
    }
    return { framesDeleted, bytesReclaimed };
  }

  private deleteIn(e: RecordingEntry, req: DeletionRecord): { framesDeleted: number; bytesReclaimed: number } {
    const d = this.liveDescriptor(e);
    const none = { framesDeleted: 0, bytesReclaimed: 0 };
    if (!d || !e.files || !e.index || d.state !== 'valid') return none;
    const named = (c: string | undefined): boolean => c === undefined || c === d.channel || d.aliases.includes(c);
    if (!named(req.channel)) return none;
    const holds: HoldInterval[] = (req.holds ?? this.quarantineStore.quarantines()).filter((q) => named(q.channel));
    const target: DeletionTarget = {
      recordingId: e.id,
      files: e.files,
      index: e.index,
      end: this.endOf(e).position(),
      activeBase: e.writer ? e.writer.segmentBase : Number.MAX_SAFE_INTEGER,
      seek: (utc) => this.seekForDeletion(e, utc),
    };
    const r = applyDeletion(target, req.fromUtcNs, req.toUtcNs, holds);
    e.cache!.invalidate();
    if (r.framesDeleted > 0 && !e.writer) e.index.writeAll(this.dir);
    return r;
  }

  /** After a segment copy was installed: the deletions decided with explicit holds that may touch it apply to it too. */
  private reapplyDeletions(e: RecordingEntry, s: SegmentSummary): void {
    if (s.frames === 0) return;
    for (const del of this.ledger.deletions()) {
      if (del.holds === undefined || del.framesDeleted < 0) continue;
      if (del.toUtcNs <= s.firstUtcNs || del.fromUtcNs > s.lastUtcNs) continue;
      this.deleteIn(e, del);
    }
  }

  /** Seek for a deletion: segments that cannot be read here are skipped by the deleter, so start before them. */
  private seekForDeletion(e: RecordingEntry, utcNs: bigint): number {
    try {
      return this.findPosition(e.id, utcNs);
    } catch (err) {
      if (!(err instanceof VcrError) || !SEGMENT_ERRORS.includes(err.code)) throw err;
      const from = e.index!.floorBefore(utcNs);
      return from < 0 ? this.liveDescriptor(e)!.startPosition : from;
    }
  }

  private seek(e: RecordingEntry, utcNs: bigint): number {
    const d = this.liveDescriptor(e)!;
    const end = this.endOf(e).position();
    const from = e.index!.floorBefore(utcNs);
    const cursor = new FrameCursor(e.id, e.cache!, from < 0 ? d.startPosition : from, false);
    while (cursor.next(end)) if (cursor.utcNs >= utcNs) return cursor.framePosition;
    return end;
  }

  private checkPosition(e: RecordingEntry, d: RecordingDescriptor, position: number, end: number): void {
    if (!Number.isSafeInteger(position) || position < d.startPosition || position > end || position % FRAME_ALIGNMENT !== 0) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `position ${position} is not a frame position of recording ${e.id} (${d.startPosition}..${end})`);
    }
    checkFramePosition({ recordingId: e.id, source: e.cache!, index: e.index, startPosition: d.startPosition, endPosition: end }, position);
  }

  private segmentContext(e: RecordingEntry): ops.SegmentContext {
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

  private sorted(): RecordingEntry[] {
    return [...this.recordings.values()].sort((a, b) => a.id - b.id);
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
