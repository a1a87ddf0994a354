/**
 * Writes the frames of a recording made on another node, at their exact positions, so the
 * local segments become byte-identical to the recorder's (and their digests equal).
 *
 * `appendFrames(position, bytes)` takes whole frames as `Archive.readRawFrames` returns them
 * (DATA, DELETED and PADDING, each with its alignment bytes; a PADDING frame with its body up
 * to the segment end). The position must be this writer's current end (contiguous; when fewer
 * than 32 bytes are left in a segment, the next segment's base is the same place), a DATA
 * frame's CRC must match its bytes (else CORRUPT_SEGMENT, and nothing from that frame on is
 * stored), and, like the recorder, the length is stored last. Segment files are created as
 * needed (replacing an `.away` marker), the time index keeps up, and `commit` publishes the
 * metadata as the recorder's writer does, so recovery treats a crashed replica like a crashed
 * recording. `stop` ends the replica (the final descriptor, when the caller has it, wins).
 */
import { closeSync, fsyncSync } from 'node:fs';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { Catalog } from './catalog.js';
import { FrameStatus, checkFrame, frameCrc, frameStatusText } from './frame.js';
import { storageError } from './io-errors.js';
import { FRAME_HEADER_LENGTH, FrameOffset, FrameType, alignFrame, segmentFileName } from './layout.js';
import type { MetadataFile } from './metadata-file.js';
import type { WriterOptions } from './recording-writer.js';
import { releaseMapping, syncMapping, type SegmentFiles } from './segment-files.js';
import type { TimeIndex } from './time-index.js';
import type { RecordingDescriptor } from './types.js';

const RELEASE_STEP = 4 * 1024 * 1024;
const header = new EventFrameHeaderDecoder();

export class ReplicaWriter {
  readonly recordingId: number;
  private active = true;
  private seg: Buffer | undefined;
  private words: Int32Array = new Int32Array(0);
  private segBase: number;
  private offset: number;
  private syncedOffset: number;
  private releasedOffset = 0;
  private lastSyncMs: number;
  private readonly indexFd: number;
  private readonly segmentLength: number;

  constructor(
    private readonly descriptor: RecordingDescriptor,
    private readonly files: SegmentFiles,
    private readonly metadata: MetadataFile,
    readonly index: TimeIndex,
    private readonly catalog: Catalog,
    private readonly opts: WriterOptions,
    private readonly onClose: (w: ReplicaWriter) => void,
  ) {
    this.recordingId = descriptor.recordingId;
    this.segmentLength = descriptor.segmentLength;
    this.segBase = files.baseOf(descriptor.stopPosition);
    this.offset = descriptor.stopPosition - this.segBase;
    this.syncedOffset = this.offset;
    this.lastSyncMs = opts.clock.epochMs();
    this.indexFd = index.openForAppend(files.dir);
  }

  /** Where the next frame must go. */
  get position(): number {
    return this.segBase + this.offset;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Base of the segment being written. */
  get segmentBase(): number {
    return this.segBase;
  }

  snapshot(): RecordingDescriptor {
    return { ...this.descriptor, aliases: [...this.descriptor.aliases] };
  }

  /**
   * Stores the whole frames in `bytes[offset, offset + length)` starting at `position`;
   * returns the new end position. Throws INVALID_POSITION if `position` is not the current
   * end, INVALID_ARGUMENT for a partial or malformed frame, CORRUPT_SEGMENT for a DATA frame
   * whose CRC does not match; the frames before the bad one are stored.
   */
  appendFrames(position: number, bytes: Buffer, offset = 0, length = bytes.length - offset): number {
    if (!this.active) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `replica of recording ${this.recordingId} is stopped`);
    // after a segment's last frame, fewer than a header's bytes left: the next frame is in the next segment
    const gapped = this.segmentLength - this.offset < FRAME_HEADER_LENGTH && position === this.segBase + this.segmentLength;
    if (position !== this.position && !gapped) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `replica of recording ${this.recordingId} continues at ${this.position}, not ${position}`);
    }
    const end = offset + length;
    let at = offset;
    while (at < end) {
      if (this.segmentLength - this.offset < FRAME_HEADER_LENGTH) this.moveTo(this.segBase + this.segmentLength);
      if (this.seg === undefined) this.openSegment();
      const seg = this.seg!;
      const off = this.offset;
      const room = this.segmentLength - off;
      const bad = (why: string, code: typeof ErrorCode.INVALID_ARGUMENT | typeof ErrorCode.CORRUPT_SEGMENT = ErrorCode.INVALID_ARGUMENT): VcrError =>
        new VcrError(code, `replica of recording ${this.recordingId}, frame at position ${this.position}: ${why}`);
      if (end - at < FRAME_HEADER_LENGTH) throw bad('partial frame header');
      const st = checkFrame(bytes, at, at + Math.min(room, end - at), false);
      if (st !== FrameStatus.OK) throw bad(st === FrameStatus.BAD_LENGTH ? 'frame is partial or does not fit the segment' : frameStatusText(st));
      const h = header.wrap(bytes, at);
      const frameLength = h.frameLength();
      const type = h.frameType();
      const consumed = type === FrameType.PADDING ? frameLength : alignFrame(frameLength);
      if (type === FrameType.PADDING && frameLength !== room) throw bad('padding does not reach the segment end');
      if (end - at < consumed) throw bad('partial frame');
      if (frameCrc(bytes, at, frameLength, type) !== h.crc32c()) throw bad('frame CRC32C mismatch', ErrorCode.CORRUPT_SEGMENT);
      // everything but the length, then the length (an ordered store): readers see whole frames only
      const copyEnd = type === FrameType.DATA ? consumed : FRAME_HEADER_LENGTH;
      bytes.copy(seg, off + 4, at + 4, at + copyEnd);
      Atomics.store(this.words, (off + FrameOffset.LENGTH) >> 2, frameLength);
      const pos = this.segBase + off;
      if (type !== FrameType.PADDING) this.index.onFrame(h.utcNs(), pos);
      if (type === FrameType.DATA) {
        const d = this.descriptor;
        d.eventCount++;
        d.stopUtcNs = h.utcNs();
        d.stopMonoNs = h.monoNs();
      }
      this.offset = off + consumed;
      at += consumed;
    }
    return this.position;
  }

  /** Publishes progress like the recorder's commit: index, metadata, syncs. */
  commit(): number {
    if (!this.active) return 0;
    try {
      this.index.flushTo(this.indexFd, this.opts.fileSyncLevel === 2);
      this.publish();
      this.sync(false);
    } catch (err) {
      throw storageError(err, `replica of recording ${this.recordingId}`);
    }
    this.releaseWritten();
    return 1;
  }

  /**
   * Ends the replica: final index and metadata, catalog updated. `final` (the recorder's final
   * descriptor, when known) supplies lifecycle, times, count and failure code; the stop
   * position stays where this replica's frames end. Without it the replica is 'stopped' here.
   */
  stop(final?: Partial<Pick<RecordingDescriptor, 'lifecycle' | 'failureCode' | 'stopUtcNs' | 'stopMonoNs' | 'eventCount' | 'cleanStop'>>): RecordingDescriptor {
    if (!this.active) return this.snapshot();
    this.active = false;
    const d = this.descriptor;
    try {
      this.index.flushTo(this.indexFd, true);
      d.lifecycle = final?.lifecycle ?? 'stopped';
      d.failureCode = final?.failureCode ?? 0;
      d.cleanStop = final?.cleanStop ?? true;
      if (final?.stopUtcNs !== undefined) d.stopUtcNs = final.stopUtcNs;
      if (final?.stopMonoNs !== undefined) d.stopMonoNs = final.stopMonoNs;
      if (final?.eventCount !== undefined) d.eventCount = final.eventCount;
      this.publish();
      this.sync(true);
      if (this.opts.fileSyncLevel > 0) fsyncSync(this.indexFd);
      this.catalog.write(this.snapshot());
    } finally {
      try {
        closeSync(this.indexFd);
      } catch {
        // already closed
      }
      this.onClose(this);
    }
    return this.snapshot();
  }

  private publish(): void {
    const d = this.descriptor;
    d.stopPosition = this.position;
    this.metadata.update(d);
  }

  private sync(force: boolean): void {
    const level = this.opts.fileSyncLevel;
    if (level === 0 || this.seg === undefined) return;
    const now = this.opts.clock.epochMs();
    if (!force && level === 1 && now - this.lastSyncMs < this.opts.syncIntervalMs) return;
    this.lastSyncMs = now;
    syncMapping(this.seg, this.syncedOffset, this.offset - this.syncedOffset);
    this.syncedOffset = this.offset;
    if (level === 2 || force) this.metadata.sync();
  }

  private moveTo(base: number): void {
    if (this.seg !== undefined) {
      if (this.opts.fileSyncLevel > 0) syncMapping(this.seg, this.syncedOffset, this.segmentLength - this.syncedOffset);
      releaseMapping(this.seg, 0, this.seg.length);
    }
    this.seg = undefined;
    this.segBase = base;
    this.offset = 0;
    this.syncedOffset = 0;
    this.releasedOffset = 0;
  }

  /** Maps the segment at segBase, creating it (in place of an away marker) if it is not here. */
  private openSegment(): void {
    const base = this.segBase;
    const state = this.files.status(base);
    try {
      if (state !== 'present') {
        if (this.offset !== 0 || state === 'tombstone') {
          throw new VcrError(ErrorCode.INVALID_POSITION, `replica of recording ${this.recordingId}: ${segmentFileName(this.recordingId, base)} is ${state}, frames cannot continue at ${this.position}`);
        }
        this.files.create(base);
        if (state === 'away') this.files.clearAway(base);
      }
      const seg = this.files.map(base, true);
      this.seg = seg;
      this.words = new Int32Array(seg.buffer, seg.byteOffset, seg.length >>> 2);
    } catch (err) {
      throw storageError(err, `replica of recording ${this.recordingId}`);
    }
  }

  private releaseWritten(): void {
    if (this.seg === undefined) return;
    const keep = this.offset - (this.offset % RELEASE_STEP);
    if (keep - this.releasedOffset >= RELEASE_STEP) {
      releaseMapping(this.seg, this.releasedOffset, keep - this.releasedOffset);
      this.releasedOffset = keep;
    }
  }
}
