/**
 * The summary (digest, frames, end, first and last UTC) of a copy file, computed from the
 * frames its writer stored: each batch is checked (structure, and every frame's CRC32C against
 * its bytes, in memory) before any of it is written (SegmentCopyFile.append), and only then is
 * it fed here. `installSegment` takes this summary instead of reading the copy back from disk
 * (docs/REPLICATION.md §5.3, "What install verifies").
 *
 * Beside the summary it keeps the time-index entries of the copy (the first frame at or after
 * every `INDEX_GRANULARITY` boundary, as TimeIndex samples them), so that install does not map
 * and walk the new segment for its index either: mapping a 64 MiB file costs the archiver a
 * major garbage collection (V8 counts the mapping as external memory).
 *
 * The summary is known only while it covers the copy from its first frame, with no DELETED
 * frame: a deleted run is described by the holder's deletion log, which the install's own
 * pass over the file merges. A copy rewound to a position other than its first frame, or
 * resumed from a file an earlier run left, is not known either; install then reads it back.
 */
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import type { CheckedIndex } from '../../storage/archive.js';
import { SegmentDigest, type SegmentSummary } from '../../storage/digest.js';
import { DEFAULT_INDEX_STRIDE, FrameType, alignFrame } from '../../storage/layout.js';

const header = new EventFrameHeaderDecoder();
/** Index entries are kept for this stride (the archive's default; an archive with a stride it does not divide walks the segment). */
export const INDEX_GRANULARITY = DEFAULT_INDEX_STRIDE;

export class CopyDigest {
  private digest = new SegmentDigest();
  private firstUtcNs = 0n;
  private lastUtcNs = 0n;
  private end: number;
  private known = true;
  private finished: SegmentSummary | undefined;
  private positions = new Float64Array(64);
  private utcs = new BigInt64Array(64);
  private entries = 0;
  private nextStrideStart = 0;

  constructor(private readonly first: number) {
    this.end = first;
  }

  /** Starts over at the copy's first frame (the file was rewound there). */
  reset(): void {
    this.digest = new SegmentDigest();
    this.firstUtcNs = 0n;
    this.lastUtcNs = 0n;
    this.end = this.first;
    this.known = true;
    this.finished = undefined;
    this.entries = 0;
    this.nextStrideStart = 0;
  }

  /** The copy now holds frames this digest did not see: install must read it back. */
  forget(): void {
    this.known = false;
    this.finished = undefined;
  }

  /**
   * Frames just stored: `bytes[offset, offset + length)`, whole frames already checked, starting
   * at `position` (a PADDING frame by its header alone ends them).
   */
  add(bytes: Buffer, offset: number, length: number, position: number): void {
    if (!this.known) return;
    if (this.finished !== undefined || position !== this.end) {
      // frames after a summary was taken, or not where the last ones ended: nothing to trust
      this.forget();
      return;
    }
    const stop = offset + length;
    let at = offset;
    let pos = position;
    while (at < stop) {
      const h = header.wrap(bytes, at);
      const type = h.frameType();
      if (type === FrameType.PADDING) break;
      if (type !== FrameType.DATA) {
        this.forget();
        return;
      }
      const frameLength = h.frameLength();
      const utcNs = h.utcNs();
      if (this.digest.frames === 0) this.firstUtcNs = utcNs;
      this.lastUtcNs = utcNs;
      this.digest.add(pos, frameLength, h.crc32c());
      if (pos >= this.nextStrideStart) this.indexEntry(pos, utcNs);
      const size = alignFrame(frameLength);
      at += size;
      pos += size;
    }
    this.end = pos;
  }

  /** The copy's time-index entries (see the module comment), or undefined when the summary is. */
  index(): CheckedIndex | undefined {
    if (!this.known) return undefined;
    return { stride: INDEX_GRANULARITY, count: this.entries, positions: this.positions, utcNs: this.utcs };
  }

  private indexEntry(position: number, utcNs: bigint): void {
    if (this.entries === this.positions.length) {
      const positions = new Float64Array(this.entries * 2);
      positions.set(this.positions);
      this.positions = positions;
      const utcs = new BigInt64Array(this.entries * 2);
      utcs.set(this.utcs);
      this.utcs = utcs;
    }
    this.positions[this.entries] = position;
    this.utcs[this.entries] = utcNs;
    this.entries++;
    this.nextStrideStart = (Math.floor(position / INDEX_GRANULARITY) + 1) * INDEX_GRANULARITY;
  }

  /**
   * The copy's summary, or undefined when this digest does not describe the whole copy. Taking
   * it ends the digest (frames stored after it make it unknown, until a reset).
   */
  summary(): SegmentSummary | undefined {
    if (!this.known) return undefined;
    this.finished ??= this.digest.finish(this.end, this.firstUtcNs, this.lastUtcNs);
    return this.finished;
  }
}
