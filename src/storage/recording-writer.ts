/**
 * Appends events of one live recording into its segments.
 *
 * Two append paths share one frame encoder (frame-encoder.ts: header by typed-array stores,
 * short payloads copied and checksummed in one pass, the header CRC state reused across
 * events with the same times). `append` stores the frame into the segment's mapping and the
 * length last (an ordered store), so that no reader, in this process or another, ever sees a
 * frame before it is complete; no syscall per event. `appendStaged` (the archiver's recording
 * sessions) encodes into a reused staging buffer that is written to the segment file at the
 * next commit, first length word last (frame-stage.ts says why: page faults on fresh mapped
 * pages cost more than the copy and the CRC together). Either way the header's typed-array
 * indexes are checked against the generated codec's offsets when the encoder module loads.
 * `commit` (once per duty cycle) writes the staged frames, publishes the live fields to the
 * metadata file, appends new time index entries, syncs according to fileSyncLevel and creates
 * the next segment ahead of need. A storage failure stops only this recording: it becomes
 * FAILED with the error's code, everything written before stays readable, and every later
 * append throws the same error.
 *
 * The writer also keeps each segment's digest (digest.ts): an append buffers a 16-byte
 * record, `commit` hashes the buffer, and when the writer rolls past a segment (after its
 * padding) or the recording stops, `onSegmentSealed` hears the segment's end, frame count,
 * digest and times.
 */
import { closeSync, fdatasyncSync, fsyncSync, openSync, readSync } from 'node:fs';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { SOURCE_FLAGS, sourceLength } from '../util/source-address.js';
import type { Catalog } from './catalog.js';
import { readDeletionLog } from './deletion-log.js';
import { SegmentDigest, segmentRecords } from './digest.js';
import { FrameEncoder, type FrameTarget } from './frame-encoder.js';
import { FrameStage } from './frame-stage.js';
import { writeHeaderOnlyFrame } from './frame.js';
import { storageError, writeFully } from './io-errors.js';
import { FRAME_HEADER_LENGTH, FrameType, KNOWN_FRAME_FLAGS } from './layout.js';
import type { MetadataFile } from './metadata-file.js';
import { releaseMapping, type SegmentFiles, type SegmentPreallocator } from './segment-files.js';
import type { TimeIndex } from './time-index.js';
import type { RecordingDescriptor, SealedSegment, StorageClock } from './types.js';

const RELEASE_STEP = 4 * 1024 * 1024;
/** Bytes of the next segment written per commit: ~1 ms of work at most. */
const PREALLOCATE_SLICE = 2 * 1024 * 1024;

/** The stage of a writer that never staged a frame (its buffer is allocated on first use). */
const NO_STAGE = new FrameStage(0);

/** Reads the first frame of a segment when it is sealed (its UTC is the segment's first). */
const firstFrameHeader = new EventFrameHeaderDecoder();

/** x86-64 orders stores (total store order); a plain store then costs ~110 ns less than Atomics.store. */
const TSO = process.arch === 'x64';

export interface WriterOptions {
  fileSyncLevel: 0 | 1 | 2;
  syncIntervalMs: number;
  clock: StorageClock;
  /** Hears every segment the writer completes; must not throw (an exception is reported as a process warning). */
  onSegmentSealed?: ((s: SealedSegment) => void) | undefined;
}

/** Calls the sealed-segment listener; a listener that throws must not break the recording. */
export function notifySealed(listener: WriterOptions['onSegmentSealed'], s: SealedSegment): void {
  if (!listener) return;
  try {
    listener(s);
  } catch (err) {
    process.emitWarning(`onSegmentSealed listener threw for recording ${s.recordingId}, segment ${s.base}: ${String(err)}`);
  }
}

export const WriterState = { ACTIVE: 0, STOPPED: 1, FAILED: 2 } as const;
export type WriterStateValue = (typeof WriterState)[keyof typeof WriterState];

export class RecordingWriter {
  readonly recordingId: number;
  private state: WriterStateValue = WriterState.ACTIVE;
  private failure: VcrError | undefined;
  /** The current segment's mapping, made on first need (see mapping()). */
  private seg: Buffer | undefined;
  private segBase = 0;
  private offset = 0;
  private syncedOffset = 0;
  private nextSegmentReady = false;
  private lastSyncMs: number;
  private syncs = 0;
  private readonly segmentLength: number;
  /** The next segment, created and mapped (pre-faulted) ahead of need by commit(). */
  /** Builds the next segment a slice per commit (see prepareNextSegment). */
  private nextSegment: SegmentPreallocator | undefined;
  /** The slice build failed (e.g. disk full): the roll retries, and reports, synchronously. */
  private nextSegmentFailed = false;
  /** Bytes of the current segment whose pages were given back (releaseWritten). */
  private releasedOffset = 0;
  private readonly indexFd: number;
  private lastUtc: bigint;
  private lastMono: bigint;
  private eventCount: number;
  /** Digest of the current segment's frames so far. */
  private readonly digest = new SegmentDigest();
  /** Encodes frames (header cache, CRC) for both append paths. */
  private readonly encoder = new FrameEncoder();
  /** appendStaged()'s batch, written to the segment file by flushStaged(); allocated on first use. */
  private stage: FrameStage = NO_STAGE;
  /** The current segment's file: the staged path's writes, padding, syncs, the seal's read. */
  private segFd = -1;
  /** The current segment's mapping as a FrameTarget (the immediate path's destination), if made. */
  private mapped: FrameTarget | undefined;
  /** A frame header's worth of bytes: padding written and the first header read through the file. */
  private readonly scratch = Buffer.alloc(FRAME_HEADER_LENGTH);

  /** `descriptor` is the recording's live descriptor; its stop fields say where to resume. */
  constructor(
    private readonly descriptor: RecordingDescriptor,
    private readonly files: SegmentFiles,
    private readonly metadata: MetadataFile,
    readonly index: TimeIndex,
    private readonly catalog: Catalog,
    private readonly opts: WriterOptions,
    private readonly onClose: (w: RecordingWriter) => void,
  ) {
    this.recordingId = descriptor.recordingId;
    this.segmentLength = descriptor.segmentLength;
    this.lastUtc = descriptor.stopUtcNs;
    this.lastMono = descriptor.stopMonoNs;
    this.eventCount = descriptor.eventCount;
    this.lastSyncMs = opts.clock.epochMs();
    this.indexFd = index.openForAppend(files.dir);
    const pos = descriptor.stopPosition;
    this.segBase = files.baseOf(pos);
    if (files.status(this.segBase) !== 'present') files.create(this.segBase);
    this.segFd = this.openSegment(this.segBase);
    this.offset = pos - this.segBase;
    this.syncedOffset = this.offset;
    if (this.offset > 0) {
      // resuming inside a segment: its digest starts from the frames already there
      const where = { recordingId: this.recordingId, base: this.segBase, segmentLength: this.segmentLength };
      const from = Math.max(0, descriptor.startPosition - this.segBase);
      this.mapping();
      const { records } = segmentRecords(where, this.seg!, from, pos, readDeletionLog(files, this.segBase));
      for (const r of records) this.digest.add(r.position, r.frameLength, r.crc32c);
    }
  }

  /** Base position of the segment being written. */
  get segmentBase(): number {
    return this.segBase;
  }

  /**
   * End of the frames in the segment file: where readers stop, what commit publishes. Frames
   * staged by appendStaged() count from the write that stores them (the next commit at the
   * latest); with nothing staged it is where the next frame goes.
   */
  get position(): number {
    return this.segBase + (this.stage.used === 0 ? this.offset : this.stage.start);
  }

  get isFailed(): boolean {
    return this.state === WriterState.FAILED;
  }

  get isActive(): boolean {
    return this.state === WriterState.ACTIVE;
  }

  /** Largest payload a frame can carry with this segment length. */
  get maxPayloadLength(): number {
    return this.segmentLength - FRAME_HEADER_LENGTH;
  }

  /**
   * Appends one event; returns the position of its frame. `flags` are FrameFlags bits stored
   * in the frame header (covered by its CRC). When they hold SOURCE_IPV4 or SOURCE_IPV6, the
   * encoded source address (src/util/source-address.ts: 6 or 18 bytes) is taken from
   * `src[srcOff..]` and stored after the payload. The frame is stored into the segment's
   * mapping and visible to readers when this returns. Throws VcrError on failure.
   */
  append(buf: Uint8Array, off: number, len: number, utcNs: bigint, monoNs: bigint, flags = 0, src?: Uint8Array, srcOff = 0): number {
    if (this.state !== WriterState.ACTIVE) throw this.notActive();
    const frameLength = this.checkedFrameLength(buf, off, len, flags, src, srcOff);
    if (this.stage.used !== 0) this.flushStaged(); // staged frames come first
    const aligned = (frameLength + 7) & ~7;
    if (this.offset + aligned > this.segmentLength) this.roll();
    const o = this.offset;
    let t = this.mapped;
    if (t === undefined) {
      try {
        t = this.mapping();
      } catch (err) {
        this.fail(err);
        throw err;
      }
    }
    const crc = this.encoder.encode(t, o, buf, off, len, utcNs, monoNs, flags, frameLength, src, srcOff, frameLength - len - FRAME_HEADER_LENGTH);
    // the length goes last; x86-64 keeps stores in program order (TSO) and V8 does not reorder
    // stores to memory, so a plain store publishes the frame; elsewhere use a fenced store
    if (TSO) t.words[o >> 2] = frameLength;
    else Atomics.store(t.words, o >> 2, frameLength);
    return this.appended(o, aligned, frameLength, crc, utcNs, monoNs);
  }

  /**
   * Appends one event like append(), but into the writer's staging buffer: the frame reaches
   * the segment file, and readers, at the next commit() (or stop(), or append(), or when the
   * buffer fills up). The archiver's recording sessions use it: they commit after each duty
   * cycle's batch, and the batch is written with two pwrite calls instead of being stored into
   * fresh pages of the mapping (see FrameStage). A frame larger than the buffer goes through
   * append(). The returned position is final.
   */
  appendStaged(buf: Uint8Array, off: number, len: number, utcNs: bigint, monoNs: bigint, flags = 0, src?: Uint8Array, srcOff = 0): number {
    if (this.state !== WriterState.ACTIVE) throw this.notActive();
    const frameLength = this.checkedFrameLength(buf, off, len, flags, src, srcOff);
    const aligned = (frameLength + 7) & ~7;
    let st = this.stage;
    if (st === NO_STAGE) this.stage = st = new FrameStage();
    if (aligned > st.capacity) return this.append(buf, off, len, utcNs, monoNs, flags, src, srcOff);
    if (this.offset + aligned > this.segmentLength) {
      this.flushStaged();
      this.roll();
    } else if (!st.fits(aligned)) this.flushStaged();
    if (st.used === 0) st.begin(this.offset, this.lastUtc, this.lastMono);
    const s = st.used;
    // the alignment gap after the frame is written as zeros (the buffer is reused)
    st.words[(s + aligned - 4) >> 2] = 0;
    st.words[(s + aligned - 8) >> 2] = 0;
    const crc = this.encoder.encode(st, s, buf, off, len, utcNs, monoNs, flags, frameLength, src, srcOff, frameLength - len - FRAME_HEADER_LENGTH);
    st.words[s >> 2] = frameLength;
    st.used = s + aligned;
    st.frames++;
    return this.appended(this.offset, aligned, frameLength, crc, utcNs, monoNs);
  }

  /** Validates an append's arguments; returns the frame's length. */
  private checkedFrameLength(buf: Uint8Array, off: number, len: number, flags: number, src: Uint8Array | undefined, srcOff: number): number {
    const srcLen = (flags & SOURCE_FLAGS) === 0 ? 0 : sourceLength(flags);
    if (!(off >= 0 && len >= 0 && off + len <= buf.length) || (flags & ~KNOWN_FRAME_FLAGS) !== 0 || srcLen < 0) {
      throw new VcrError(
        ErrorCode.INVALID_ARGUMENT,
        (flags & ~KNOWN_FRAME_FLAGS) !== 0 || srcLen < 0 ? `frame flags ${flags} hold unknown or conflicting bits` : `event bytes [${off}, ${off + len}) lie outside a ${buf.length}-byte buffer`,
      );
    }
    if (srcLen > 0 && (src === undefined || !(srcOff >= 0 && srcOff + srcLen <= src.length))) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `frame flags ${flags} announce a ${srcLen}-byte source address the call does not give`);
    }
    const frameLength = len + FRAME_HEADER_LENGTH + srcLen;
    if (((frameLength + 7) & ~7) > this.segmentLength) {
      throw new VcrError(ErrorCode.EVENT_TOO_LARGE, `event of ${len} bytes exceeds the ${this.maxPayloadLength - srcLen}-byte limit of recording ${this.recordingId}`);
    }
    return frameLength;
  }

  /** Bookkeeping of a frame written at segment offset `o`: position, times, count, index, digest. */
  private appended(o: number, aligned: number, frameLength: number, crc: number, utcNs: bigint, monoNs: bigint): number {
    const position = this.segBase + o;
    this.offset = o + aligned;
    this.lastUtc = utcNs;
    this.lastMono = monoNs;
    this.eventCount++;
    this.index.onFrame(utcNs, position);
    this.digest.add(position, frameLength, crc);
    return position;
  }

  /**
   * Writes the staged frames to the segment file. If the write fails they were not stored:
   * the recording ends before them (position, count, times and index rolled back) and fails.
   */
  private flushStaged(): void {
    const st = this.stage;
    if (st.used === 0) return;
    const frames = st.frames;
    try {
      st.writeTo(this.segFd);
    } catch (err) {
      this.offset = st.start;
      this.eventCount -= frames;
      this.lastUtc = st.prevUtcNs;
      this.lastMono = st.prevMonoNs;
      this.index.truncateFrom(this.segBase + st.start);
      this.fail(err);
    }
  }

  /**
   * Publishes progress: index entries, metadata live fields, syncs per fileSyncLevel, and
   * prepares the next segment. Returns 1 if anything was done (duty-cycle work count).
   */
  commit(): number {
    if (this.state !== WriterState.ACTIVE) return 0;
    this.flushStaged();
    try {
      this.index.flushTo(this.indexFd, this.opts.fileSyncLevel === 2);
      this.publish('recording', false, 0);
      this.syncIfDue(false);
    } catch (err) {
      this.fail(err);
    }
    this.digest.flush();
    if (!this.nextSegmentReady && !this.nextSegmentFailed && this.offset > this.segmentLength >>> 1) this.prepareNextSegment();
    this.releaseWritten();
    return 1;
  }

  /** Stops the recording cleanly: final commit, catalog update, files closed. */
  stop(stopUtcNs?: bigint): RecordingDescriptor {
    if (this.state === WriterState.STOPPED) return this.snapshot();
    if (this.state === WriterState.ACTIVE) {
      try {
        this.flushStaged();
      } catch {
        return this.snapshot(); // the recording failed (flushStaged said why), before the staged frames
      }
      try {
        this.index.flushTo(this.indexFd, true);
        this.state = WriterState.STOPPED;
        this.publish('stopped', true, 0, stopUtcNs);
        this.syncIfDue(true);
        if (this.opts.fileSyncLevel > 0) fsyncSync(this.indexFd);
        const next = this.segBase + this.segmentLength;
        this.nextSegment?.abort();
        this.nextSegment = undefined;
        if (this.nextSegmentReady || this.files.status(next) === 'present') this.files.remove(next);
        // an empty recording keeps no preallocated segment
        if (this.position === this.descriptor.startPosition && this.offset === 0) this.files.remove(this.segBase);
        this.catalog.write(this.snapshot());
        this.sealCurrent(this.segFd);
      } catch (err) {
        this.state = WriterState.ACTIVE;
        this.close();
        this.fail(err, false);
        return this.snapshot();
      }
    }
    this.close();
    return this.snapshot();
  }

  /** The live descriptor (a copy). */
  snapshot(): RecordingDescriptor {
    return { ...this.descriptor, aliases: [...this.descriptor.aliases] };
  }

  /** How many times data was synced (fileSyncLevel policy, observable for tests and stats). */
  get syncCount(): number {
    return this.syncs;
  }

  /** Last error if the recording failed. */
  get error(): VcrError | undefined {
    return this.failure;
  }

  private close(): void {
    this.stage.discard();
    this.nextSegment?.abort();
    this.nextSegment = undefined;
    this.closeSegmentFd();
    try {
      closeSync(this.indexFd);
    } catch {
      // already closed
    }
    this.onClose(this);
  }

  private publish(lifecycle: RecordingDescriptor['lifecycle'], cleanStop: boolean, failureCode: number, stopUtcNs?: bigint): void {
    const d = this.descriptor;
    d.lifecycle = lifecycle;
    d.cleanStop = cleanStop;
    d.failureCode = failureCode;
    d.stopPosition = this.position;
    d.stopUtcNs = stopUtcNs ?? this.lastUtc;
    d.stopMonoNs = this.lastMono;
    d.eventCount = this.eventCount;
    this.metadata.update(d);
  }

  private syncIfDue(force: boolean): void {
    const level = this.opts.fileSyncLevel;
    if (level === 0) return;
    const now = this.opts.clock.epochMs();
    if (!force && level === 1 && now - this.lastSyncMs < this.opts.syncIntervalMs) return;
    this.lastSyncMs = now;
    this.syncs++;
    if (this.offset > this.syncedOffset) fdatasyncSync(this.segFd); // also what was stored through the mapping
    this.syncedOffset = this.offset;
    if (level === 2 || force) this.metadata.sync();
  }

  /** Moves to the next segment: create and open it first, then pad, sync and seal the old one. */
  private roll(): void {
    this.flushStaged();
    const next = this.segBase + this.segmentLength;
    const oldFd = this.segFd;
    const oldMap = this.seg;
    const oldOffset = this.offset;
    let nextFd = -1;
    try {
      if (this.nextSegment !== undefined) this.nextSegment.finish();
      else if (this.files.status(next) !== 'present') this.files.create(next);
      this.nextSegment = undefined;
      nextFd = this.openSegment(next);
    } catch (err) {
      this.fail(err);
    }
    try {
      const remaining = this.segmentLength - oldOffset;
      if (remaining >= FRAME_HEADER_LENGTH) this.writePadding(oldFd, oldOffset, remaining);
      if (this.opts.fileSyncLevel > 0) fdatasyncSync(oldFd);
      this.sealCurrent(oldFd);
    } catch (err) {
      closeSync(nextFd);
      this.fail(err);
    }
    closeSync(oldFd);
    if (oldMap) releaseMapping(oldMap, 0, oldMap.length);
    this.segFd = nextFd;
    this.seg = undefined;
    this.mapped = undefined;
    this.segBase = next;
    this.offset = 0;
    this.syncedOffset = 0;
    this.releasedOffset = 0;
    this.nextSegmentReady = false;
    this.nextSegmentFailed = false;
  }

  /** The PADDING frame that fills a segment's end, written through the file (header only, length last). */
  private writePadding(fd: number, offset: number, length: number): void {
    const h = this.scratch;
    writeHeaderOnlyFrame(h, 0, length, FrameType.PADDING, this.lastUtc, this.lastMono);
    writeFully(fd, h, 4, FRAME_HEADER_LENGTH - 4, offset + 4);
    writeFully(fd, h, 0, 4, offset);
  }

  /**
   * Builds the next segment once the current one is half full, one slice per commit, so the
   * roll finds it ready and no duty cycle waits for a whole 64 MiB allocation. If the roll
   * comes first, it completes the segment itself.
   */
  private prepareNextSegment(): void {
    const next = this.segBase + this.segmentLength;
    if (this.nextSegment === undefined) {
      if (this.files.status(next) === 'present') {
        this.nextSegmentReady = true;
        return;
      }
      this.nextSegment = this.files.preallocator(next);
    }
    try {
      if (this.nextSegment.step(PREALLOCATE_SLICE)) {
        this.nextSegment = undefined;
        this.nextSegmentReady = true;
      }
    } catch {
      this.nextSegment = undefined;
      this.nextSegmentFailed = true;
    }
  }

  /**
   * Gives back the pages of the current segment behind the write position in 4 MiB steps,
   * so a recording's resident memory stays a few MiB however large its segments are.
   */
  private releaseWritten(): void {
    if (this.seg === undefined) return;
    const keep = this.offset - (this.offset % RELEASE_STEP);
    if (keep - this.releasedOffset >= RELEASE_STEP) {
      releaseMapping(this.seg, this.releasedOffset, keep - this.releasedOffset);
      this.releasedOffset = keep;
    }
  }

  /**
   * Reports the current segment (before segBase moves on) as complete, if it holds frames.
   * Its first frame's header has the first UTC (a deletion keeps the first deleted event's
   * UTC in the DELETED frame that replaces it); the last is the last appended.
   */
  private sealCurrent(fd: number): void {
    const base = this.segBase;
    let firstUtc = 0n;
    if (this.digest.frames > 0) {
      const h = this.scratch;
      if (readSync(fd, h, 0, FRAME_HEADER_LENGTH, Math.max(0, this.descriptor.startPosition - base)) !== FRAME_HEADER_LENGTH) {
        throw new VcrError(ErrorCode.IO_ERROR, `recording ${this.recordingId}: segment ${base} is shorter than its frames`);
      }
      firstUtc = firstFrameHeader.wrap(h, 0).utcNs();
    }
    const summary = this.digest.finish(base + this.offset, firstUtc, this.lastUtc);
    if (summary.frames > 0) notifySealed(this.opts.onSegmentSealed, { recordingId: this.recordingId, base, ...summary });
  }

  /** Opens a segment file for writing (the staged path, padding, syncs, sealing). */
  private openSegment(base: number): number {
    try {
      return openSync(this.files.path(base), 'r+');
    } catch (err) {
      throw storageError(err, `cannot open ${this.files.path(base)}`);
    }
  }

  /**
   * The current segment's mapping, made on first need: only the immediate path (append) and a
   * resumed segment's digest use it, so a recording that only stages never maps its segments
   * (each 64 MiB mapping also counts as external memory for V8, which triggers collections).
   */
  private mapping(): FrameTarget {
    if (this.mapped !== undefined) return this.mapped;
    const seg = this.files.map(this.segBase, true, false);
    this.seg = seg;
    this.mapped = {
      bytes: seg,
      words: new Int32Array(seg.buffer, seg.byteOffset, seg.length >>> 2),
      longs: new BigInt64Array(seg.buffer, seg.byteOffset, seg.length >>> 3),
    };
    return this.mapped;
  }

  private closeSegmentFd(): void {
    if (this.segFd < 0) return;
    try {
      closeSync(this.segFd);
    } catch {
      // already closed
    }
    this.segFd = -1;
  }

  private notActive(): VcrError {
    return this.failure ?? new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${this.recordingId} is stopped`);
  }

  /** Marks the recording FAILED (metadata and catalog, best effort) and throws. */
  private fail(err: unknown, rethrow = true): never | void {
    const e = storageError(err, `recording ${this.recordingId}`);
    this.failure = new VcrError(e.code, `recording ${this.recordingId} stopped: ${e.message}`, { cause: e });
    if (this.state === WriterState.ACTIVE) {
      this.state = WriterState.FAILED;
      try {
        this.publish('failed', false, e.code);
      } catch {
        // the mapping is still valid; nothing else to do
      }
      try {
        this.catalog.write(this.snapshot());
      } catch {
        // catalog unwritable too: recovery on open will redo it from the metadata
      }
      this.close();
    }
    if (rethrow) throw this.failure;
  }
}
