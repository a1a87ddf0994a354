/**
 * The summary (digest, frames, end, first and last UTC) of a copy file, computed from the
 * frames its writer stored: each batch is checked (structure, and every frame's CRC32C against
 * its bytes, in memory) before any of it is written (SegmentCopyFile.append), and only then is
 * it fed here. `installSegment` takes this summary instead of reading the copy back from disk
 * (docs/REPLICATION.md §5.3, "What install verifies").
 *
 * The summary is known only while it covers the copy from its first frame, with no DELETED
 * frame: a deleted run is described by the holder's deletion log, which the install's own
 * pass over the file merges. A copy rewound to a position other than its first frame, or
 * resumed from a file an earlier run left, is not known either; install then reads it back.
 */
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import { SegmentDigest, type SegmentSummary } from '../../storage/digest.js';
import { FrameType, alignFrame } from '../../storage/layout.js';

const header = new EventFrameHeaderDecoder();

export class CopyDigest {
  private digest = new SegmentDigest();
  private firstUtcNs = 0n;
  private lastUtcNs = 0n;
  private end: number;
  private known = true;
  private finished: SegmentSummary | undefined;

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
      const size = alignFrame(frameLength);
      at += size;
      pos += size;
    }
    this.end = pos;
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
