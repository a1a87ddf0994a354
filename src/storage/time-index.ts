/**
 * recording-ID.tix: sparse time index, one 16-byte entry (utcNs, position) for the first frame
 * at or after each `stride` boundary of positions, after a 64-byte TimeIndexHeader record.
 * UTC is non-decreasing within a recording (the archiver guarantees it), so a binary search
 * finds the last entry before a time and a scan of at most one stride finds the frame.
 * The whole index is held in memory (16 bytes per stride: 8 MB for 2 GB at 4 KiB); the
 * file is appended at commit and rebuilt from the segments when missing or damaged.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import {
  FRAME_ALIGNMENT,
  TIME_INDEX_BLOCK_LENGTH,
  TIME_INDEX_ENTRY_LENGTH,
  TIME_INDEX_HEADER_LENGTH,
  TemplateId,
  timeIndexFileName,
  writeMessageHeader,
  SCHEMA_ID,
} from './layout.js';

export function timeIndexPath(dir: string, recordingId: number): string {
  return join(dir, timeIndexFileName(recordingId));
}

export class TimeIndex {
  /** Interleaved [utc0, pos0, utc1, pos1, ...]. */
  private entries: BigInt64Array;
  private count = 0;
  private flushed = 0;
  private lastStride = -1;
  /** The file holds entries past `count` that must be cut at the next flush. */
  private truncatePending = false;

  constructor(
    readonly recordingId: number,
    readonly stride: number,
    capacity = 1024,
  ) {
    this.entries = new BigInt64Array(capacity * 2);
  }

  get length(): number {
    return this.count;
  }

  utcAt(i: number): bigint {
    return this.entries[i * 2]!;
  }

  positionAt(i: number): number {
    return Number(this.entries[i * 2 + 1]!);
  }

  /** Called for every appended frame; records it if it is the first in a new stride. */
  onFrame(utcNs: bigint, position: number): void {
    const s = Math.floor(position / this.stride);
    if (s === this.lastStride) return;
    this.lastStride = s;
    if (this.count * 2 === this.entries.length) {
      const bigger = new BigInt64Array(this.entries.length * 2);
      bigger.set(this.entries);
      this.entries = bigger;
    }
    this.entries[this.count * 2] = utcNs;
    this.entries[this.count * 2 + 1] = BigInt(position);
    this.count++;
  }

  /** Position of the last entry whose UTC is strictly before `utcNs`, or -1. */
  floorBefore(utcNs: bigint): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid * 2]! < utcNs) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? -1 : Number(this.entries[found * 2 + 1]!);
  }

  /** Drops entries at or after `position` (recovery cut a torn tail there). */
  truncateFrom(position: number): void {
    let n = this.count;
    while (n > 0 && Number(this.entries[(n - 1) * 2 + 1]!) >= position) n--;
    this.count = n;
    this.flushed = Math.min(this.flushed, n);
    this.truncatePending = true;
    this.lastStride = n > 0 ? Math.floor(this.positionAt(n - 1) / this.stride) : -1;
  }

  /** Keeps only entries for which `keep(position)` is true (after a deletion merged frames). */
  filter(keep: (position: number) => boolean): number {
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      const p = Number(this.entries[r * 2 + 1]!);
      if (!keep(p)) continue;
      this.entries[w * 2] = this.entries[r * 2]!;
      this.entries[w * 2 + 1] = this.entries[r * 2 + 1]!;
      w++;
    }
    const removed = this.count - w;
    this.count = w;
    this.flushed = 0; // forces a full rewrite
    this.truncatePending = true;
    this.lastStride = w > 0 ? Math.floor(this.positionAt(w - 1) / this.stride) : -1;
    return removed;
  }

  clear(): void {
    this.count = 0;
    this.flushed = 0;
    this.lastStride = -1;
  }

  /** Appends unflushed entries to the open index file (fd from openForAppend). */
  flushTo(fd: number, sync: boolean): void {
    if (this.truncatePending) {
      ftruncateSync(fd, TIME_INDEX_HEADER_LENGTH + this.flushed * TIME_INDEX_ENTRY_LENGTH);
      this.truncatePending = false;
    }
    if (this.flushed === this.count) return;
    const bytes = Buffer.from(this.entries.buffer, this.flushed * TIME_INDEX_ENTRY_LENGTH, (this.count - this.flushed) * TIME_INDEX_ENTRY_LENGTH);
    writeFully(fd, bytes, 0, bytes.length, TIME_INDEX_HEADER_LENGTH + this.flushed * TIME_INDEX_ENTRY_LENGTH);
    this.flushed = this.count;
    if (sync) fsyncSync(fd);
  }

  /** Writes the whole index to `dir` atomically (temp + fsync + rename). */
  writeAll(dir: string): void {
    const path = timeIndexPath(dir, this.recordingId);
    const body = Buffer.from(this.entries.buffer, 0, this.count * TIME_INDEX_ENTRY_LENGTH);
    let fd = -1;
    try {
      fd = openSync(`${path}.tmp`, 'w');
      writeFully(fd, encodeHeader(this.recordingId, this.stride), 0, TIME_INDEX_HEADER_LENGTH, 0);
      if (body.length > 0) writeFully(fd, body, 0, body.length, TIME_INDEX_HEADER_LENGTH);
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
    if (buf.readUInt16LE(2) !== TemplateId.TIME_INDEX_HEADER || buf.readUInt16LE(4) !== SCHEMA_ID) bad('bad header record');
    if (Number(buf.readBigInt64LE(8)) !== recordingId) bad('belongs to another recording');
    if (buf.readInt32LE(16) !== stride) bad('stride differs');
    if (buf.readInt32LE(20) !== TIME_INDEX_ENTRY_LENGTH || buf.readInt32LE(24) !== TIME_INDEX_HEADER_LENGTH) bad('bad entry layout');
    const n = Math.floor((buf.length - TIME_INDEX_HEADER_LENGTH) / TIME_INDEX_ENTRY_LENGTH);
    const idx = new TimeIndex(recordingId, stride, Math.max(1024, n));
    const copy = new Uint8Array(idx.entries.buffer, 0, n * TIME_INDEX_ENTRY_LENGTH);
    copy.set(buf.subarray(TIME_INDEX_HEADER_LENGTH, TIME_INDEX_HEADER_LENGTH + n * TIME_INDEX_ENTRY_LENGTH));
    let prevUtc = -(1n << 63n);
    let prevStride = -1;
    for (let i = 0; i < n; i++) {
      const utc = idx.entries[i * 2]!;
      const p = Number(idx.entries[i * 2 + 1]!);
      const s = Math.floor(p / stride);
      if (p % FRAME_ALIGNMENT !== 0 || p < 0 || p >= limitPosition) bad(`entry ${i} position ${p} out of range`);
      if (s <= prevStride) bad(`entry ${i} out of order`);
      if (utc < prevUtc) bad(`entry ${i} time goes backwards`);
      prevUtc = utc;
      prevStride = s;
    }
    idx.count = n;
    idx.flushed = n;
    idx.lastStride = prevStride;
    return idx;
  }
}

function encodeHeader(recordingId: number, stride: number): Buffer {
  const h = Buffer.alloc(TIME_INDEX_HEADER_LENGTH);
  writeMessageHeader(h, 0, TIME_INDEX_BLOCK_LENGTH, TemplateId.TIME_INDEX_HEADER);
  h.writeBigInt64LE(BigInt(recordingId), 8);
  h.writeInt32LE(stride, 16);
  h.writeInt32LE(TIME_INDEX_ENTRY_LENGTH, 20);
  h.writeInt32LE(TIME_INDEX_HEADER_LENGTH, 24);
  return h;
}
