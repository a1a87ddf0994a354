/**
 * Appends events of one live recording into its memory-mapped segments.
 *
 * `append` is the hot path: header fields and payload are copied into the mapping, the CRC is
 * computed there, and the length is stored last (an ordered store) so that no reader, in this
 * process or another, ever sees a frame before it is complete. No syscall per event. The
 * header goes in with typed-array stores at literal indexes, like the readers' FrameCursor,
 * checked against the offsets derived from the generated codec when this module loads: the
 * generated encoder's two 64-bit stores cost about what the segment digest records added to
 * this path, and the path must stay within 5 % of its former speed (docs/FORMAT.md).
 * `commit` (once per duty cycle) publishes the live fields to the metadata file, appends new
 * time index entries, syncs according to fileSyncLevel and creates the next segment ahead of
 * need. A storage failure stops only this recording: it becomes FAILED with the error's code,
 * everything appended before stays readable, and every later append throws the same error.
 *
 * The writer also keeps each segment's digest (digest.ts): `append` buffers a 16-byte record,
 * `commit` hashes the buffer, and when the writer rolls past a segment (after its padding) or
 * the recording stops, `onSegmentSealed` hears the segment's end, frame count, digest and times.
 */
import { closeSync, fsyncSync } from 'node:fs';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { crc32c, crc32cAligned, crc32cCopyRaw, crc32cInt32, crc32cJs, crc32cRawPair, crc32cRawWord, crc32cWhole, crc32cWordShiftTable } from '../util/crc32c.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { SOURCE_FLAGS, sourceLength } from '../util/source-address.js';
import type { Catalog } from './catalog.js';
import { readDeletionLog } from './deletion-log.js';
import { SegmentDigest, segmentRecords } from './digest.js';
import { writeHeaderOnlyFrame } from './frame.js';
import { storageError } from './io-errors.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType, KNOWN_FRAME_FLAGS } from './layout.js';
import type { MetadataFile } from './metadata-file.js';
import { releaseMapping, syncMapping, type SegmentFiles, type SegmentPreallocator } from './segment-files.js';
import type { TimeIndex } from './time-index.js';
import type { RecordingDescriptor, SealedSegment, StorageClock } from './types.js';

const RELEASE_STEP = 4 * 1024 * 1024;
/** Payloads shorter than this are copied and CRC'd in one JS pass; longer ones use the native CRC. */
const FUSED_COPY_LIMIT = 384;
/**
 * A frame's length word's share of its header CRC state: the length is the first word the
 * CRC covers, followed by the other 28 header bytes (see the header cache in append()).
 */
const LENGTH_SHIFT = crc32cWordShiftTable(FRAME_HEADER_LENGTH - 4);
/** Bytes of the next segment written per commit: ~1 ms of work at most. */
const PREALLOCATE_SLICE = 2 * 1024 * 1024;

/*
 * Header fields as typed-array indexes (words: length at byte 0, type | flags << 16 at byte 4,
 * crc at 24, reserved at 28; longs: utc at 8, mono at 16 of the 8-aligned frame), literal in
 * append() for speed and checked here against the offsets derived from the generated codec.
 */
if (
  FrameOffset.LENGTH !== 0 || FrameOffset.TYPE !== 4 || FrameOffset.FLAGS !== 6 || FrameOffset.UTC !== 8 ||
  FrameOffset.MONO !== 16 || FrameOffset.CRC !== 24 || FrameOffset.RESERVED !== 28
) {
  throw new Error('RecordingWriter: the EventFrameHeader layout changed; update its typed-array indexes');
}

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
  private seg!: Buffer;
  private words!: Int32Array;
  private longs!: BigInt64Array;
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
  /** append()'s header cache: the raw CRC state of the header without its length, and its key. */
  private hdrState = 0;
  private hdrTypeFlags = -1;
  private hdrU0 = 0;
  private hdrU1 = 0;
  private hdrM0 = 0;
  private hdrM1 = 0;
  /** append()'s source: the last caller buffer and a DataView of it (unaligned word loads). */
  private srcBytes: Uint8Array | undefined;
  private srcView: DataView | undefined;

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
    this.mapSegment(this.segBase);
    this.offset = pos - this.segBase;
    this.syncedOffset = this.offset;
    if (this.offset > 0) {
      // resuming inside a segment: its digest starts from the frames already there
      const where = { recordingId: this.recordingId, base: this.segBase, segmentLength: this.segmentLength };
      const from = Math.max(0, descriptor.startPosition - this.segBase);
      const { records } = segmentRecords(where, this.seg, from, pos, readDeletionLog(files, this.segBase));
      for (const r of records) this.digest.add(r.position, r.frameLength, r.crc32c);
    }
  }

  /** Base position of the segment being written. */
  get segmentBase(): number {
    return this.segBase;
  }

  /** Position the next frame will be written at. */
  get position(): number {
    return this.segBase + this.offset;
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
   * `src[srcOff..]` and stored after the payload. Throws VcrError on failure.
   */
  append(buf: Uint8Array, off: number, len: number, utcNs: bigint, monoNs: bigint, flags = 0, src?: Uint8Array, srcOff = 0): number {
    if (this.state !== WriterState.ACTIVE) throw this.notActive();
    const srcLen = (flags & SOURCE_FLAGS) === 0 ? 0 : sourceLength(flags);
    const frameLength = len + FRAME_HEADER_LENGTH + srcLen;
    const aligned = (frameLength + 7) & ~7;
    if (!(off >= 0 && len >= 0 && off + len <= buf.length) || (flags & ~KNOWN_FRAME_FLAGS) !== 0 || srcLen < 0) {
      throw new VcrError(
        ErrorCode.INVALID_ARGUMENT,
        (flags & ~KNOWN_FRAME_FLAGS) !== 0 || srcLen < 0 ? `frame flags ${flags} hold unknown or conflicting bits` : `event bytes [${off}, ${off + len}) lie outside a ${buf.length}-byte buffer`,
      );
    }
    if (srcLen > 0 && (src === undefined || !(srcOff >= 0 && srcOff + srcLen <= src.length))) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `frame flags ${flags} announce a ${srcLen}-byte source address the call does not give`);
    }
    if (aligned > this.segmentLength) {
      throw new VcrError(ErrorCode.EVENT_TOO_LARGE, `event of ${len} bytes exceeds the ${this.maxPayloadLength - srcLen}-byte limit of recording ${this.recordingId}`);
    }
    if (this.offset + aligned > this.segmentLength) this.roll();
    const o = this.offset;
    const seg = this.seg;
    const w32 = this.words;
    const l64 = this.longs;
    const typeFlags = FrameType.DATA | (flags << 16);
    w32[(o + 4) >> 2] = typeFlags;
    l64[(o + 8) >> 3] = utcNs;
    l64[(o + 16) >> 3] = monoNs;
    w32[(o + 24) >> 2] = 0; // the CRC is computed with its field zero
    w32[(o + 28) >> 2] = 0;
    let crc: number;
    if (len < FUSED_COPY_LIMIT) {
      // The header's CRC state without the length depends on type, flags and times only, which
      // consecutive events mostly share (one read, one datagram batch): computed once for them,
      // then the length is folded in with four table entries (CRC linearity).
      const u0 = w32[(o + 8) >> 2]!;
      const u1 = w32[(o + 12) >> 2]!;
      const m0 = w32[(o + 16) >> 2]!;
      const m1 = w32[(o + 20) >> 2]!;
      if (typeFlags !== this.hdrTypeFlags || u0 !== this.hdrU0 || u1 !== this.hdrU1 || m0 !== this.hdrM0 || m1 !== this.hdrM1) {
        this.hdrTypeFlags = typeFlags;
        this.hdrU0 = u0;
        this.hdrU1 = u1;
        this.hdrM0 = m0;
        this.hdrM1 = m1;
        let h = crc32cRawWord(crc32cRawWord(-1, 0), typeFlags);
        h = crc32cRawPair(crc32cRawPair(crc32cRawPair(h, u0, u1), m0, m1), 0, 0);
        this.hdrState = h;
      }
      let c =
        this.hdrState ^
        LENGTH_SHIFT[frameLength & 255]! ^
        LENGTH_SHIFT[256 + ((frameLength >>> 8) & 255)]! ^
        LENGTH_SHIFT[512 + ((frameLength >>> 16) & 255)]! ^
        LENGTH_SHIFT[768 + (frameLength >>> 24)]!;
      if (buf !== this.srcBytes) {
        this.srcBytes = buf;
        this.srcView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      }
      c = crc32cCopyRaw(c, buf, this.srcView!, off, len, w32, seg, o + FRAME_HEADER_LENGTH);
      crc = ~c >>> 0;
    } else {
      // long payloads: one native copy, native CRC over the caller's bytes (identical to the copy), no subarray when whole
      seg.set(off === 0 && len === buf.length ? buf : buf.subarray(off, off + len), o + FRAME_HEADER_LENGTH);
      const h = crc32cAligned(w32, seg, o + 4, FRAME_HEADER_LENGTH - 4, crc32cInt32(frameLength));
      crc = off === 0 && len === buf.length ? crc32cWhole(buf, h) : crc32c(buf, off, len, h);
    }
    if (srcLen !== 0) {
      // the source trailer follows the payload; the CRC goes on over it
      const at = o + FRAME_HEADER_LENGTH + len;
      for (let i = 0; i < srcLen; i++) seg[at + i] = src![srcOff + i]!;
      crc = crc32cJs(seg, at, srcLen, crc);
    }
    w32[(o + 24) >> 2] = crc;
    // the length goes last; x86-64 keeps stores in program order (TSO) and V8 does not reorder
    // stores to memory, so a plain store publishes the frame; elsewhere use a fenced store
    if (TSO) w32[o >> 2] = frameLength;
    else Atomics.store(w32, o >> 2, frameLength);
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
   * Publishes progress: index entries, metadata live fields, syncs per fileSyncLevel, and
   * prepares the next segment. Returns 1 if anything was done (duty-cycle work count).
   */
  commit(): number {
    if (this.state !== WriterState.ACTIVE) return 0;
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
        this.sealCurrent(this.seg);
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

  /** How many times data was msync'ed (fileSyncLevel policy, observable for tests and stats). */
  get syncCount(): number {
    return this.syncs;
  }

  /** Last error if the recording failed. */
  get error(): VcrError | undefined {
    return this.failure;
  }

  private close(): void {
    this.nextSegment?.abort();
    this.nextSegment = undefined;
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
    syncMapping(this.seg, this.syncedOffset, this.offset - this.syncedOffset);
    this.syncedOffset = this.offset;
    if (level === 2 || force) this.metadata.sync();
  }

  /** Moves to the next segment: create/map it first, then pad the old one. */
  private roll(): void {
    const next = this.segBase + this.segmentLength;
    const old = this.seg;
    const oldOffset = this.offset;
    try {
      if (this.nextSegment !== undefined) this.nextSegment.finish();
      else if (this.files.status(next) !== 'present') this.files.create(next);
      this.nextSegment = undefined;
      this.mapSegment(next);
    } catch (err) {
      this.fail(err);
    }
    const remaining = this.segmentLength - oldOffset;
    if (remaining >= FRAME_HEADER_LENGTH) writeHeaderOnlyFrame(old, oldOffset, remaining, FrameType.PADDING, this.lastUtc, this.lastMono);
    if (this.opts.fileSyncLevel > 0) syncMapping(old, this.syncedOffset, this.segmentLength - this.syncedOffset);
    if (old !== this.seg) releaseMapping(old, 0, old.length);
    this.sealCurrent(old);
    this.segBase = next;
    this.offset = 0;
    this.syncedOffset = 0;
    this.releasedOffset = 0;
    this.nextSegmentReady = false;
    this.nextSegmentFailed = false;
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
  private sealCurrent(seg: Buffer): void {
    const base = this.segBase;
    const firstUtc = this.digest.frames > 0 ? firstFrameHeader.wrap(seg, Math.max(0, this.descriptor.startPosition - base)).utcNs() : 0n;
    const summary = this.digest.finish(base + this.offset, firstUtc, this.lastUtc);
    if (summary.frames > 0) notifySealed(this.opts.onSegmentSealed, { recordingId: this.recordingId, base, ...summary });
  }

  private mapSegment(base: number): void {
    const seg = this.files.map(base, true, false);
    this.seg = seg;
    this.words = new Int32Array(seg.buffer, seg.byteOffset, seg.length >>> 2);
    this.longs = new BigInt64Array(seg.buffer, seg.byteOffset, seg.length >>> 3);
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
