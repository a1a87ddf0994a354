/**
 * Read-only mappings of one recording's segments. Mappings are only address space (64 GiB
 * for 1024 segments of 64 MiB), so many are kept: a seek by time into any segment then costs
 * no open/mmap. A mapping is released when dropped from the cache and garbage collected.
 */
import type { SegmentFiles } from './segment-files.js';

export type SegmentView = Buffer | 'tombstone' | null;

export interface SegmentSource {
  readonly segmentLength: number;
  /** The mapping of the segment at `base`, 'tombstone' if deleted, null if absent. */
  get(base: number): SegmentView;
}

export class SegmentCache implements SegmentSource {
  private readonly maps = new Map<number, Buffer>();

  constructor(
    private readonly files: SegmentFiles,
    private readonly keep = 1024,
  ) {}

  get segmentLength(): number {
    return this.files.segmentLength;
  }

  get(base: number): SegmentView {
    const hit = this.maps.get(base);
    if (hit) return hit;
    const status = this.files.status(base);
    if (status === 'tombstone') return 'tombstone';
    if (status !== 'ok') return null;
    const m = this.files.map(base, false);
    this.maps.set(base, m);
    if (this.maps.size > this.keep) this.maps.delete(this.maps.keys().next().value as number);
    return m;
  }

  /** Forget a segment (deleted or rewritten). */
  invalidate(base?: number): void {
    if (base === undefined) this.maps.clear();
    else this.maps.delete(base);
  }
}
