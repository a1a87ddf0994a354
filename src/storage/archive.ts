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
import { join } from 'node:path';
import { settleArchived } from './archive-tier/settle.js';
import { forgetThawed, useThawDirectory } from './archive-tier/thaw-cache.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { Catalog } from './catalog.js';
import { checkRebuildable, readDirectory, type DirectoryFiles } from './catalog-rebuild.js';
import { settleAwayMarkers, type SegmentDamage } from './damage.js';
import { checkDescriptorFits } from './descriptor-codec.js';
import { DeletionRunner } from './deletion-runner.js';
import type { SegmentSummary } from './digest.js';
import { storageError } from './io-errors.js';
import { DEFAULT_INDEX_STRIDE, DEFAULT_SEGMENT_LENGTH, FrameType, isValidSegmentLength } from './layout.js';
import { MarkFile } from './mark-file.js';
import { MergedReader } from './merged-reader.js';
import { MetadataFile, writeMetadataFile } from './metadata-file.js';
import { FrameCursor, RecordingReader } from './recording-reader.js';
import { RecordingWriter } from './recording-writer.js';
import { loadRecording } from './recovery.js';
import { RecordingTable, type RecordingEntry } from './recording-table.js';
import { installDescriptor, openReplica, type ForeignContext } from './foreign-recordings.js';
import type { ReplicaWriter } from './replica-writer.js';
import { scanForward } from './scan.js';
import { SegmentCache, type SegmentSource } from './segment-cache.js';
import type { SegmentFiles } from './segment-files.js';
import { readDeletionLogBytes } from './deletion-log.js';
import type { SegmentPrefix } from './segment-prefix.js';
import * as ops from './segment-ops.js';
import { CatalogIds, LocalHolds, type DeletionLedger, type QuarantineStore, type RecordingIdAllocator } from './stores.js';
import { TimeIndex } from './time-index.js';
import { systemClock, type DeletionRecord, type QuarantineHold, type RecordingDescriptor } from './types.js';
import { usageOf } from './usage.js';
import type { ArchiveOptions, DeleteRequest, NewRecording, RecordingFilter, ResolvedOptions } from './archive-options.js';

export type { ArchiveOptions, DeleteRequest, NewRecording, RecordingFilter } from './archive-options.js';
export type { SegmentDamage } from './damage.js';
export type { LiveWriter, RecordingEntry } from './recording-table.js';
export type { SegmentListing, RawFrames } from './segment-ops.js';
export type { SegmentSummary } from './digest.js';

/**
 * A copy's time-index entries as its writer sampled them (installSegment): the first frame at
 * or after every `stride` boundary, `count` of them, positions ascending.
 */
export interface CheckedIndex {
  stride: number;
  count: number;
  positions: Float64Array;
  utcNs: BigInt64Array;
}
export type { SegmentPrefix } from './segment-prefix.js';

export class Archive {
  private readonly table: RecordingTable;
  private readonly deletions: DeletionRunner;
  private closed = false;
  private readonly ids: RecordingIdAllocator;
  private readonly quarantineStore: QuarantineStore;
  private readonly ledger: DeletionLedger;

  private constructor(
    readonly dir: string,
    readonly readOnly: boolean,
    private readonly catalog: Catalog,
    private readonly mark: MarkFile | undefined,
    private readonly opts: ResolvedOptions,
    options: ArchiveOptions,
  ) {
    const local = options.quarantines && options.deletions ? undefined : new LocalHolds(dir);
    this.quarantineStore = options.quarantines ?? local!;
    this.ledger = options.deletions ?? local!;
    this.ids = options.recordingIds ? options.recordingIds(catalog) : new CatalogIds(catalog);
    this.table = new RecordingTable(dir, readOnly, opts.indexStride);
    this.deletions = new DeletionRunner(dir, this.table, this.quarantineStore, this.ledger, options.deleteSealedSegmentsOnly ?? false);
  }

  static open(dir: string, options: ArchiveOptions = {}): Archive {
    const opts: ResolvedOptions = {
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
    if (!readOnly) useThawDirectory(dir, join(dir, 'thaw')); // archived segments are read through copies there
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
    for (const e of this.table.sorted()) if (e.actions.length > 0) out.push({ recordingId: e.id, actions: [...e.actions] });
    return out;
  }

  /** Damaged segments (missing or truncated files) of the recordings, as found at open or after a segment change. */
  damage(): SegmentDamage[] {
    return this.table.sorted().flatMap((e) => e.damage.map((d) => ({ ...d })));
  }

  /** Recordings that could not be loaded (corrupt descriptor and metadata), with the reason. */
  damagedRecordings(): { recordingId: number; error: VcrError }[] {
    const out: { recordingId: number; error: VcrError }[] = [];
    for (const e of this.table.sorted()) if (e.error) out.push({ recordingId: e.id, error: e.error });
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
    const entry = this.table.add(d, new TimeIndex(id, this.opts.indexStride));
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
   * A writer that appends to a recording already here, from its local end (a stopped or
   * recovered recording, or the descriptor of one made elsewhere): the recording is live again
   * until the writer stops. Segments sealed before are not heard again by `onSegmentSealed`;
   * the one the writer resumes in is, when it stops or rolls. RECORDING_ACTIVE if a writer has it.
   */
  resumeRecording(recordingId: number): RecordingWriter {
    this.requireWritable();
    const entry = this.table.entry(recordingId);
    if (entry.writer) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${recordingId} is being written here`);
    const d = entry.descriptor!;
    const files = entry.files!;
    const base = files.baseOf(d.stopPosition);
    // frames the descriptor counts in a segment that is not here are not here: resume at its base
    const stop = d.stopPosition !== base && files.status(base) !== 'present' ? base : d.stopPosition;
    Object.assign(d, { lifecycle: 'recording', cleanStop: false, stopPosition: stop });
    const index = entry.index ?? this.table.loadIndex(d, files);
    entry.index = index;
    index.truncateFrom(stop);
    index.writeAll(this.dir);
    writeMetadataFile(this.dir, d);
    this.catalog.write(d);
    const writer = new RecordingWriter(d, files, MetadataFile.openMapped(this.dir, recordingId), index, this.catalog, this.opts, (w) => {
      if (entry.writer === w) entry.writer = undefined;
    });
    entry.writer = writer;
    entry.cache!.invalidate();
    return writer;
  }

  /**
   * Upserts the descriptor of a recording made elsewhere (catalog and metadata file, lifecycle
   * as given). Segment positions it covers with no local file get an away marker unless
   * `markAway` is false, so they read as held elsewhere, not as damage.
   */
  installDescriptor(d: RecordingDescriptor, opts: { markAway?: boolean } = {}): void {
    this.requireWritable();
    installDescriptor(this.foreign(), d, opts.markAway ?? true);
  }

  /**
   * A writer for the frames of a recording made elsewhere (see ReplicaWriter). The recording is
   * created here from `d` if it is not known yet; otherwise the replica continues where the
   * local frames end.
   */
  openReplica(d: RecordingDescriptor): ReplicaWriter {
    this.requireWritable();
    return openReplica(this.foreign(), d);
  }

  /** Commits every live writer (a failing one is marked FAILED, not thrown) and refreshes the mark heartbeat. */
  doWork(): number {
    let work = 0;
    this.mark?.heartbeat();
    for (const e of this.table.sorted()) {
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
    for (const e of this.table.sorted()) {
      const d = this.table.liveDescriptor(e);
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
    const e = this.table.entry(recordingId);
    return this.table.liveDescriptor(e)!;
  }

  /** Reader from `position` (default: start) for `length` bytes, or to the end; `follow` keeps reading a live recording. */
  openReader(recordingId: number, opts: { position?: number; length?: number; follow?: boolean; verifyCrc?: boolean } = {}): RecordingReader {
    const e = this.table.entry(recordingId);
    const d = this.table.liveDescriptor(e)!;
    const end = this.table.endOf(e);
    const position = opts.position ?? d.startPosition;
    this.table.checkPosition(e, position, end.position());
    if (opts.length !== undefined && (!Number.isSafeInteger(opts.length) || opts.length < 0)) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `length ${opts.length} is not valid`);
    }
    return new RecordingReader(recordingId, e.cache!, end, position, opts.length, opts.follow ?? false, opts.verifyCrc ?? false);
  }

  /** Position of the first event at or after `utcNs` (the recording's end if none), via the time index. */
  findPosition(recordingId: number, utcNs: bigint): number {
    return this.table.findPosition(this.table.entry(recordingId), utcNs);
  }

  /** The recording's time index (read-only use: the console's rates over time, without a scan). */
  timeIndex(recordingId: number): Pick<TimeIndex, 'length' | 'utcAt' | 'positionAt' | 'floorBefore'> {
    return this.table.entry(recordingId).index!;
  }

  /** Events of the given recordings in [fromUtcNs, toUtcNs), merged in timestamp order. */
  openMergedReader(inputs: { recordingId: number }[], fromUtcNs: bigint, toUtcNs: bigint): MergedReader {
    const ids = [...new Set(inputs.map((i) => i.recordingId))];
    const merge = ids.map((id) => {
      const e = this.table.entry(id);
      const start = this.findPosition(id, fromUtcNs);
      return { cursor: new FrameCursor(id, e.cache!, start, false), limit: this.table.endOf(e).position() };
    });
    return new MergedReader(merge, toUtcNs);
  }

  // ---- segments (replication seams) ---------------------------------------------------

  /** The recording's segment positions and their local states; `end` on the segment holding the recording's end. */
  listSegments(recordingId: number): ops.SegmentListing[] {
    return ops.listSegments(this.table.segmentContext(this.table.entry(recordingId)));
  }

  /**
   * The mappings of a recording's segments as readers see them (present, tombstone, or why a
   * segment cannot be read here). A cluster puts its own source in front of this one for the
   * segments other nodes hold.
   */
  segmentSource(recordingId: number): SegmentSource {
    return this.table.entry(recordingId).cache!;
  }

  /** The live segment of a recording being written here: its base and the write position. */
  openSegmentInfo(recordingId: number): { base: number; position: number } | undefined {
    const w = this.table.entry(recordingId).writer;
    return w?.isActive ? { base: w.segmentBase, position: w.position } : undefined;
  }

  /** Recomputes a local segment's digest (frames checked against their CRCs, deletion log merged). */
  verifySegment(recordingId: number, base: number): SegmentSummary {
    return ops.verifySegment(this.table.segmentContext(this.table.entry(recordingId)), base);
  }

  /** verifySegment in steps of a byte budget (see SegmentScrub): for re-checking idle copies without stalling the duty cycle. */
  scrubSegment(recordingId: number, base: number): ops.SegmentScrub {
    return new ops.SegmentScrub(this.table.segmentContext(this.table.entry(recordingId)), base);
  }

  /** The longest prefix of good frames of a local segment (CRC checked) up to the readable end, with its digest. */
  segmentPrefix(recordingId: number, base: number): SegmentPrefix {
    return ops.segmentPrefix(this.table.segmentContext(this.table.entry(recordingId)), base);
  }

  /** The raw bytes of a segment's deletion log (to copy it to another node), undefined when it has none. */
  deletionLogBytes(recordingId: number, base: number): Buffer | undefined {
    const e = this.table.entry(recordingId);
    this.table.segmentContext(e); // a readable recording
    return readDeletionLogBytes(e.files!, base);
  }

  /** Position of the first event at or after `utcNs` inside the segment at `base` (the segment's readable end if none). */
  findPositionInSegment(recordingId: number, base: number, utcNs: bigint): number {
    return this.table.findPositionInSegment(this.table.entry(recordingId), base, utcNs);
  }

  /** Whole frames as stored from a frame position, about `maxBytes` of them, never past the live end or the segment. */
  readRawFrames(recordingId: number, position: number, maxBytes: number): ops.RawFrames {
    const e = this.table.entry(recordingId);
    const c = this.table.segmentContext(e);
    this.table.checkPosition(e, position, c.end);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxBytes ${maxBytes} is not valid`);
    return ops.readRawFrames(c, position, maxBytes);
  }

  /**
   * Installs a verified copy of a segment (see segment-ops installSegment) and brings index and
   * damage report up to date. `checked`: the summary the copy's writer computed from frames it
   * CRC-checked before writing them; the file is then not read back for the digest. `index`:
   * the time-index entries of those frames (a stride the index's divides), so the new segment
   * is not mapped and walked for them either.
   */
  installSegment(
    recordingId: number,
    base: number,
    tempPath: string,
    expectedDigest: string,
    opts: { deletionLogPath?: string; checked?: SegmentSummary; index?: CheckedIndex } = {},
  ): SegmentSummary {
    this.requireWritable();
    const e = this.table.entry(recordingId);
    const c = this.table.segmentContext(e);
    const summary = ops.installSegment(c, base, tempPath, expectedDigest, opts.deletionLogPath, opts.checked);
    const fresh: { utcNs: bigint; position: number }[] = [];
    const limit = Math.min(base + e.files!.segmentLength, Math.max(c.end, summary.end));
    const given = opts.index;
    if (given && e.index!.stride % given.stride === 0) {
      // the copy's writer sampled its frames' times as they came: no mapping and walk of the new segment
      for (let i = 0; i < given.count; i++) if (given.positions[i]! < limit) fresh.push({ utcNs: given.utcNs[i]!, position: given.positions[i]! });
    } else {
      scanForward(e.cache!, Math.max(base, c.startPosition), {
        verifyCrc: false,
        limit,
        onFrame: (type, position, _b, _o, _l, utcNs) => {
          if (type !== FrameType.PADDING) fresh.push({ utcNs, position });
        },
      });
    }
    e.index!.replaceRange(base, base + e.files!.segmentLength, fresh);
    if (!e.writer) e.index!.writeAll(this.dir);
    this.deletions.reapply(e, summary);
    this.table.refreshDamage(e);
    return summary;
  }

  /**
   * Installs a copy of a segment whose every frame was deleted: its deletion log alone, checked
   * against the segment's digest (see segment-ops installTombstone); the segment reads as a
   * tombstone from then on and its time index entries go.
   */
  installTombstone(recordingId: number, base: number, deletionLogPath: string, expectedDigest: string): SegmentSummary {
    this.requireWritable();
    const e = this.table.entry(recordingId);
    const summary = ops.installTombstone(this.table.segmentContext(e), base, deletionLogPath, expectedDigest);
    e.index!.replaceRange(base, base + e.files!.segmentLength, []);
    if (!e.writer) e.index!.writeAll(this.dir);
    this.table.refreshDamage(e);
    return summary;
  }

  /** Drops the local copy of a segment (held by other nodes from now on). */
  dropSegment(recordingId: number, base: number): void {
    this.requireWritable();
    const e = this.table.entry(recordingId);
    ops.dropSegment(this.table.segmentContext(e), base);
    this.table.refreshDamage(e);
  }

  /** The segment files of a recording (the archive tier moves them; see src/storage/archive-tier). */
  segmentFiles(recordingId: number): SegmentFiles {
    const e = this.table.entry(recordingId);
    this.table.segmentContext(e); // a readable recording
    return e.files!;
  }

  /** Forgets cached mappings of a segment whose files changed underneath (archived, restored). */
  forgetSegment(recordingId: number, base: number): void {
    const e = this.table.entry(recordingId);
    e.cache?.invalidate(base);
    if (e.files) forgetThawed(e.files, base);
    this.table.refreshDamage(e);
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
   * given holds, or the quarantines held now. The recordings it covers are the given ones (a
   * cluster names them at commit), else those the channel names now; they are recorded with
   * it, so finishing it later never touches a recording made since. The deletion is recorded
   * first and completed after, so a crash in between is finished by the next open. With a
   * `deletionId` that was already applied here, nothing happens (`alreadyApplied`).
   */
  deleteEvents(req: DeleteRequest): { framesDeleted: number; bytesReclaimed: number; alreadyApplied?: boolean } {
    this.requireWritable();
    checkInterval(req.fromUtcNs, req.toUtcNs);
    for (const h of req.holds ?? []) checkInterval(h.fromUtcNs, h.toUtcNs);
    for (const id of req.recordings ?? []) {
      if (!Number.isSafeInteger(id) || id < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is not valid`);
    }
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
      recordings: req.recordings ?? this.deletions.resolve(req.channel),
    });
    const result = this.deletions.run(record);
    this.ledger.complete(record, result);
    return result;
  }

  /** Stops live writers and releases the directory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.table.sorted()) e.writer?.stop();
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
        entry.actions.push(...settleArchived(loaded.files, onDisk?.names ?? [], !this.readOnly));
      }
      if (loaded.index) entry.index = loaded.index;
      this.table.set(entry);
      this.table.refreshDamage(entry, files.names);
    }
    if (!this.readOnly) this.deletions.finishPending();
  }

  private requireFreeId(id: number): void {
    if (!Number.isSafeInteger(id) || id < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is not valid`);
    const slot = id < this.catalog.nextRecordingId ? this.catalog.read(id) : undefined;
    const inUse = this.table.has(id) || (slot !== undefined && !(slot.ok === false && slot.empty === true)) || readDirectory(this.dir).byRecording.has(id);
    if (inUse) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is in use in ${this.dir} (its catalog slot or files exist)`);
  }

  private foreign(): ForeignContext {
    return { dir: this.dir, catalog: this.catalog, table: this.table, opts: this.opts };
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
