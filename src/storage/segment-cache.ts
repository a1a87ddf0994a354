/**
 * Read-only mappings of one recording's segments. Mappings are only address space (64 GiB
 * for 1024 segments of 64 MiB), so many are kept: a seek by time into any segment then costs
 * no open/mmap. A mapping is released when dropped from the cache and garbage collected.
 *
 * A SegmentSource is what readers read through. It answers with the mapping of a present
 * segment, 'tombstone' for a segment whose frames were all deleted (readers skip it), or the
 * state of a segment that cannot be read here: 'away' (held by other nodes: a higher layer can
 * put a source in front of this one that fetches those bytes elsewhere), 'missing' or
 * 'truncated' (damage). `unavailable` gives the coded error a read of such a segment gets.
 */
import type { VcrError } from '../util/errors.js';
import type { SegmentFiles, SegmentState } from './segment-files.js';

export type UnavailableState = Exclude<SegmentState, 'present' | 'tombstone'>;
export type SegmentView = Buffer | 'tombstone' | UnavailableState;

export interface SegmentSource {
  readonly segmentLength: number;
  /** The mapping of the segment at `base`, 'tombstone' if deleted, else why it cannot be read. */
  get(base: number): SegmentView;
  /** The error for reading the segment at `base` that `get` reported as `state`. */
  unavailable(base: number, state: UnavailableState): VcrError;
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
    const state = this.files.status(base);
    if (state !== 'present') return state;
    const m = this.files.map(base, false);
    // an archived segment's thawed copy is kept by the thaw cache's own small LRU (archive-tier/thaw-cache.ts):
    // holding it here too would keep up to `keep` decompressed segments alive
    if (this.files.isArchived(base)) return m;
    this.maps.set(base, m);
    if (this.maps.size > this.keep) this.maps.delete(this.maps.keys().next().value as number);
    return m;
  }

  unavailable(base: number, state: UnavailableState): VcrError {
    return this.files.unavailable(base, state);
  }

  /** Forget a segment (deleted, dropped, installed or rewritten). */
  invalidate(base?: number): void {
    if (base === undefined) this.maps.clear();
    else this.maps.delete(base);
  }
}
