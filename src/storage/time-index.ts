/**
 * recording-ID.tix: sparse time index, one 16-byte entry (utcNs, position) for the first frame
 * at or after each `stride` boundary of positions, after a 64-byte TimeIndexHeader record.
 * UTC is non-decreasing within a recording (the archiver guarantees it), so a binary search
 * finds the last entry before a time and a scan of at most one stride finds the frame.
 * The whole index is held in memory (16 bytes per stride: 8 MB for 2 GB at 4 KiB); the
 * file is appended at commit and rebuilt from the segments when missing or damaged.
 * In memory the entries are kept in their file encoding (TimeIndexEntry flyweights over one
 * growing buffer), so a flush writes the buffer's bytes as they are.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  MessageHeaderDecoder,
  MessageHeaderEncoder,
  TimeIndexEntryDecoder,
  TimeIndexEntryEncoder,
  TimeIndexHeaderDecoder,
  TimeIndexHeaderEncoder,
} from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import {
  FRAME_ALIGNMENT,
  MESSAGE_HEADER_LENGTH,
  SCHEMA_ID,
  TIME_INDEX_ENTRY_LENGTH,
  TIME_INDEX_HEADER_LENGTH,
  TemplateId,
  timeIndexFileName,
} from './layout.js';

export function timeIndexPath(dir: string, recordingId: number): string {
  return join(dir, timeIndexFileName(recordingId));
}

export class TimeIndex {
  /** Encoded TimeIndexEntry records, back to back, as in the file after its header. */
  private entries: Buffer;
  private readonly entryEncoder = new TimeIndexEntryEncoder();
  private readonly entryDecoder = new TimeIndexEntryDecoder();
  private count = 0;
  private flushed = 0;
  /** First position of the stride after the last entry's: frames below it add no entry (hot path: a comparison, no division). */
  private nextStrideStart = 0;
  /** The file holds entries past `count` that must be cut at the next flush. */
  private truncatePending = false;

  constructor(
    readonly recordingId: number,
    readonly stride: number,
    capacity = 1024,
  ) {
    this.entries = Buffer.alloc(Math.max(1, capacity) * TIME_INDEX_ENTRY_LENGTH);
  }

  get length(): number {
    return this.count;
  }

  utcAt(i: number): bigint {
    return this.entryDecoder.wrap(this.entries, i * TIME_INDEX_ENTRY_LENGTH).utcNs();
  }

  positionAt(i: number): number {
    return this.entryDecoder.wrap(this.entries, i * TIME_INDEX_ENTRY_LENGTH).position();
  }

  /** Called for every appended frame; records it if it is the first in a new stride. */
  onFrame(utcNs: bigint, position: number): void {
    if (position < this.nextStrideStart) return;
    this.nextStrideStart = this.strideAfter(position);
    this.put(this.count, utcNs, position);
    this.count++;
  }

  private put(i: number, utcNs: bigint, position: number): void {
    const at = i * TIME_INDEX_ENTRY_LENGTH;
    if (at === this.entries.length) {
      const bigger = Buffer.alloc(this.entries.length * 2);
      this.entries.copy(bigger);
      this.entries = bigger;
    }
    this.entryEncoder.wrap(this.entries, at).utcNs(utcNs).position(position);
  }

  private strideAfter(position: number): number {
    return (Math.floor(position / this.stride) + 1) * this.stride;
  }

  /** Position of the last entry whose UTC is strictly before `utcNs`, or -1. */
  floorBefore(utcNs: bigint): number {
    const d = this.entryDecoder;
    const entries = this.entries;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (d.wrap(entries, mid * TIME_INDEX_ENTRY_LENGTH).utcNs() < utcNs) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? -1 : this.positionAt(found);
  }

  /** Position of the last entry at or before `position`, or -1 (entries are in position order). */
  floorPosition(position: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.positionAt(mid) <= position) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? -1 : this.positionAt(found);
  }

  /** Drops entries at or after `position` (recovery cut a torn tail there). */
  truncateFrom(position: number): void {
    let n = this.count;
    while (n > 0 && this.positionAt(n - 1) >= position) n--;
    this.count = n;
    this.flushed = Math.min(this.flushed, n);
    this.truncatePending = true;
    this.nextStrideStart = n > 0 ? this.strideAfter(this.positionAt(n - 1)) : 0;
  }

  /** Keeps only entries for which `keep(position)` is true (after a deletion merged frames). */
  filter(keep: (position: number) => boolean): number {
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      if (!keep(this.positionAt(r))) continue;
      if (w !== r) this.entries.copy(this.entries, w * TIME_INDEX_ENTRY_LENGTH, r * TIME_INDEX_ENTRY_LENGTH, (r + 1) * TIME_INDEX_ENTRY_LENGTH);
      w++;
    }
    const removed = this.count - w;
    this.count = w;
    this.flushed = 0; // forces a full rewrite
    this.truncatePending = true;
    this.nextStrideStart = w > 0 ? this.strideAfter(this.positionAt(w - 1)) : 0;
    return removed;
  }

  /**
   * Replaces the entries of positions [from, to) by the entries a scan of those positions
   * produced (in position order), e.g. after a segment was installed from another node. An
   * entry whose stride already has one is left out, so strides stay strictly increasing.
   */
  replaceRange(from: number, to: number, fresh: readonly { utcNs: bigint; position: number }[]): void {
    const all: { utcNs: bigint; position: number }[] = [];
    for (let i = 0; i < this.count; i++) {
      const position = this.positionAt(i);
      if (position < from) all.push({ utcNs: this.utcAt(i), position });
    }
    for (const e of fresh) if (e.position >= from && e.position < to) all.push(e);
    for (let i = 0; i < this.count; i++) {
      const position = this.positionAt(i);
      if (position >= to) all.push({ utcNs: this.utcAt(i), position });
    }
    this.count = 0;
    this.nextStrideStart = 0;
    for (const e of all) this.onFrame(e.utcNs, e.position);
    this.flushed = 0; // forces a full rewrite
    this.truncatePending = true;
  }

  clear(): void {
    this.count = 0;
    this.flushed = 0;
    this.nextStrideStart = 0;
  }

  /** Appends unflushed entries to the open index file (fd from openForAppend). */
  flushTo(fd: number, sync: boolean): void {
    if (this.truncatePending) {
      ftruncateSync(fd, TIME_INDEX_HEADER_LENGTH + this.flushed * TIME_INDEX_ENTRY_LENGTH);
      this.truncatePending = false;
    }
    if (this.flushed === this.count) return;
    const from = this.flushed * TIME_INDEX_ENTRY_LENGTH;
    writeFully(fd, this.entries, from, this.count * TIME_INDEX_ENTRY_LENGTH - from, TIME_INDEX_HEADER_LENGTH + from);
    this.flushed = this.count;
    if (sync) fsyncSync(fd);
  }

  /** Writes the whole index to `dir` atomically (temp + fsync + rename). */
  writeAll(dir: string): void {
    const path = timeIndexPath(dir, this.recordingId);
    const bodyLength = this.count * TIME_INDEX_ENTRY_LENGTH;
    let fd = -1;
    try {
      fd = openSync(`${path}.tmp`, 'w');
      writeFully(fd, encodeHeader(this.recordingId, this.stride), 0, TIME_INDEX_HEADER_LENGTH, 0);
      if (bodyLength > 0) writeFully(fd, this.entries, 0, bodyLength, TIME_INDEX_HEADER_LENGTH);
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(`${path}.tmp`, path);
      this.flushed = this.count;
      this.truncatePending = false;
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      throw storageError(err, `cannot write ${path}`);
    }
  }

  /** Opens the file for appending, truncated to the entries this index holds. */
  openForAppend(dir: string): number {
    const path = timeIndexPath(dir, this.recordingId);
    try {
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, TIME_INDEX_HEADER_LENGTH + this.flushed * TIME_INDEX_ENTRY_LENGTH);
      return fd;
    } catch (err) {
      throw storageError(err, `cannot open ${path}`);
    }
  }

  /**
   * Loads an index file. Throws CORRUPT_INDEX when the header, size or ordering is wrong,
   * or an entry lies at or beyond `limitPosition` (the recording's known end).
   */
  static load(dir: string, recordingId: number, stride: number, limitPosition: number): TimeIndex {
    const path = timeIndexPath(dir, recordingId);
    const bad = (why: string): never => {
      throw new VcrError(ErrorCode.CORRUPT_INDEX, `${path}: ${why}`);
    };
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return bad('missing');
    }
    if (buf.length < TIME_INDEX_HEADER_LENGTH) bad('truncated header');
    const mh = new MessageHeaderDecoder().wrap(buf, 0);
    if (mh.templateId() !== TemplateId.TIME_INDEX_HEADER || mh.schemaId() !== SCHEMA_ID) bad('bad header record');
    const h = new TimeIndexHeaderDecoder().wrap(buf, MESSAGE_HEADER_LENGTH, TimeIndexHeaderDecoder.BLOCK_LENGTH, mh.version());
    let owner = -1;
    try {
      owner = h.recordingId();
    } catch {
      // above 2^53-1 (SbeUnsafeIntegerError): not this recording's
    }
    if (owner !== recordingId) bad('belongs to another recording');
    if (h.strideBytes() !== stride) bad('stride differs');
    if (h.entryLength() !== TIME_INDEX_ENTRY_LENGTH || h.entriesOffset() !== TIME_INDEX_HEADER_LENGTH) bad('bad entry layout');
    const n = Math.floor((buf.length - TIME_INDEX_HEADER_LENGTH) / TIME_INDEX_ENTRY_LENGTH);
    const idx = new TimeIndex(recordingId, stride, Math.max(1024, n));
    buf.copy(idx.entries, 0, TIME_INDEX_HEADER_LENGTH, TIME_INDEX_HEADER_LENGTH + n * TIME_INDEX_ENTRY_LENGTH);
    let prevUtc = -(1n << 63n);
    let prevStride = -1;
    // a position no double holds exactly (SbeUnsafeIntegerError) is out of range too
    const positionAt = (i: number): number => {
      try {
        return idx.positionAt(i);
      } catch {
        return bad(`entry ${i} position out of range`);
      }
    };
    for (let i = 0; i < n; i++) {
      const utc = idx.utcAt(i);
      const p = positionAt(i);
      const s = Math.floor(p / stride);
      if (p % FRAME_ALIGNMENT !== 0 || p < 0 || p >= limitPosition) bad(`entry ${i} position ${p} out of range`);
      if (s <= prevStride) bad(`entry ${i} out of order`);
      if (utc < prevUtc) bad(`entry ${i} time goes backwards`);
      prevUtc = utc;
      prevStride = s;
    }
    idx.count = n;
    idx.flushed = n;
    idx.nextStrideStart = (prevStride + 1) * stride;
    return idx;
  }
}

function encodeHeader(recordingId: number, stride: number): Buffer {
  const h = Buffer.alloc(TIME_INDEX_HEADER_LENGTH);
  new TimeIndexHeaderEncoder()
    .wrapAndApplyHeader(h, 0, new MessageHeaderEncoder())
    .recordingId(recordingId)
    .strideBytes(stride)
    .entryLength(TIME_INDEX_ENTRY_LENGTH)
    .entriesOffset(TIME_INDEX_HEADER_LENGTH)
    .reserved(0);
  return h;
}
