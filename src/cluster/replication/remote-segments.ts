/**
 * Reads of segments this node does not hold (docs/REPLICATION.md §9). `source(R)` is a storage
 * SegmentSource for recording R: `get(base)` answers with the local mapping when this node
 * holds a verified copy, else with the mapping of a sparse cache file
 * `<dir>/cache/<R>-<base>.rec` that range fetches fill in the background, ahead of the reader,
 * from the holders the caller names. Unfetched bytes read as zeros, i.e. "not written yet":
 * the storage FrameCursor simply waits there, as it waits at a live recording's end (a reader
 * whose RecordingEnd lies beyond the fetched bytes should clamp it with `readable`).
 *
 * Fetched frames are checked (structure, CRC) before they enter the cache: a bad one is asked
 * of another holder and its sender gets a Suspect; a holder lost mid-read is replaced at the
 * same position. A holder whose copy is a tombstone (every frame deleted) sends no frames: the
 * cache then ends the segment with a PADDING frame where the reader waits, and answers
 * 'tombstone' for it from then on. `ensure(R, base, position)` starts (or moves) the fetch of a segment at a
 * position, for a read that starts there; a segment a reader walks into is fetched from its
 * start. An open segment is followed to the recorder's live end until the view shows it sealed.
 *
 * The cache is bounded (`maxSegments`, least recently used first, files removed: a mapping a
 * reader still holds stays valid), is cleared at start, and is never a copy of anything.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SegmentSource, SegmentView, UnavailableState } from '../../storage/segment-cache.js';
import { storageError } from '../../storage/io-errors.js';
import { segmentFileName } from '../../storage/layout.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { unlinkQuietly } from './incoming-parts.js';
import type { PeerQueries } from './peer-queries.js';
import { RangeFetch, RangeFetchState, type RangeFetchOptions } from './range-fetch.js';
import { cacheDir, type ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';
import type { RequestRegistry } from './request-registry.js';
import { SegmentCopyFile } from './segment-copy-file.js';

export interface RemoteDeps {
  /** this node holds a verified copy of (R, base) that reads may use */
  hasLocalCopy(recordingId: number, base: number): boolean;
  /** nodes to read (R, base) from, in preference order (live copies; the recorder for an open segment) */
  holdersOf(recordingId: number, base: number): string[];
}

export interface RemoteOptions extends Omit<RangeFetchOptions, 'bucket'> {
  /** cached segments kept, default 8 */
  maxSegments?: number;
}

/** How far the cache holds a segment: frames in [from, to) are there; `complete` once it reached the segment's end. */
export interface CachedRange {
  from: number;
  to: number;
  complete: boolean;
  fetching: boolean;
  error?: VcrError;
}

interface Cached {
  recordingId: number;
  base: number;
  file: SegmentCopyFile;
  mapping: Buffer;
  rangeStart: number;
  first: number;
  fetch: RangeFetch | undefined;
  done: boolean;
  /** every frame was deleted on the holder: reads skip the segment */
  tombstone: boolean;
  error: VcrError | undefined;
  lastUsedMs: number;
}

export class RemoteSegments {
  readonly dir: string;
  private readonly cached = new Map<string, Cached>();
  private readonly maxSegments: number;
  bytesFetched = 0;
  evictions = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly requests: RequestRegistry,
    private readonly queries: PeerQueries,
    private readonly deps: RemoteDeps,
    private readonly options: RemoteOptions = {},
  ) {
    this.maxSegments = options.maxSegments ?? 8;
    this.dir = cacheDir(ctx.dir);
    try {
      rmSync(this.dir, { recursive: true, force: true }); // what an earlier run cached proves nothing
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      throw storageError(err, `cannot prepare ${this.dir}`);
    }
  }

  /** The segments of recording R as a cluster read sees them (local verified copies, else the cache). */
  source(recordingId: number): SegmentSource {
    const segmentLength = this.segmentLengthOf(recordingId);
    return {
      segmentLength,
      get: (base: number): SegmentView => this.get(recordingId, base, segmentLength),
      unavailable: (base: number, state: UnavailableState): VcrError => this.unavailable(recordingId, base, state),
    };
  }

  /** Starts (or moves) the fetch of (R, base) so that frames from `position` (a frame start) arrive. */
  ensure(recordingId: number, base: number, position: number): void {
    if (this.deps.hasLocalCopy(recordingId, base)) return;
    const c = this.entry(recordingId, base, this.segmentLengthOf(recordingId));
    c.lastUsedMs = this.ctx.nowMs();
    const inRange = position >= c.rangeStart && position <= c.file.next;
    if (inRange && (c.fetch !== undefined || (c.done && !c.error))) return;
    c.fetch?.cancel();
    if (!inRange) {
      c.file.moveTo(position);
      c.rangeStart = position;
    }
    this.startFetch(c);
  }

  /** What the cache holds of (R, base); 'local' when reads use this node's own copy; undefined when nothing is cached. */
  readable(recordingId: number, base: number): CachedRange | 'local' | undefined {
    if (this.deps.hasLocalCopy(recordingId, base)) return 'local';
    const c = this.cached.get(key(recordingId, base));
    if (!c) return undefined;
    return { from: c.rangeStart, to: c.file.next, complete: c.file.complete, fetching: c.fetch !== undefined, ...(c.error ? { error: c.error } : {}) };
  }

  /**
   * How far a read of R from `position` can go now without waiting: the end of the segment for
   * a local copy, else the end of the cached range holding `position` (`position` itself when
   * nothing from there is cached yet). A cluster reader's RecordingEnd clamps to it.
   */
  frontier(recordingId: number, position: number): number {
    const segLen = this.segmentLengthOf(recordingId);
    const base = position - (position % segLen);
    const r = this.readable(recordingId, base);
    if (r === 'local') return base + segLen;
    if (!r || position < r.from || position > r.to) return position;
    return r.to;
  }

  doWork(): number {
    let work = 0;
    for (const c of this.cached.values()) {
      const f = c.fetch;
      if (!f) continue;
      const before = c.file.bytesWritten;
      work += f.doWork();
      this.bytesFetched += c.file.bytesWritten - before;
      if (f.state === RangeFetchState.DONE) {
        c.fetch = undefined;
        c.done = true;
        if (f.tombstone) {
          // a reader waiting in this segment moves on past the padding; new readers skip it
          c.tombstone = true;
          c.file.endWithPadding();
        }
        work++;
      } else if (f.state === RangeFetchState.FAILED) {
        c.fetch = undefined;
        c.error = f.error;
        this.ctx.log.warn({ recordingId: c.recordingId, base: c.base, error: f.error?.message }, 'remote read of a segment failed');
        work++;
      }
    }
    return work + this.evict();
  }

  close(): void {
    for (const c of this.cached.values()) this.drop(c);
    this.cached.clear();
  }

  private get(recordingId: number, base: number, segmentLength: number): SegmentView {
    if (this.deps.hasLocalCopy(recordingId, base)) {
      try {
        const local = this.ctx.archive.segmentSource(recordingId).get(base);
        if (typeof local !== 'string' || local === 'tombstone') return local;
      } catch {
        // not readable here after all: read it from a holder
      }
    }
    if (this.deps.holdersOf(recordingId, base).length === 0 && !this.cached.has(key(recordingId, base))) return 'away';
    const c = this.entry(recordingId, base, segmentLength);
    c.lastUsedMs = this.ctx.nowMs();
    if (c.tombstone) return 'tombstone';
    if (!c.fetch && !c.done && !c.error) this.startFetch(c);
    return c.mapping;
  }

  private unavailable(recordingId: number, base: number, state: UnavailableState): VcrError {
    const c = this.cached.get(key(recordingId, base));
    if (c?.error) return c.error;
    const where = `recording ${recordingId}, segment ${segmentFileName(recordingId, base)}`;
    return new VcrError(state === 'away' ? ErrorCode.REPLICA_UNAVAILABLE : ErrorCode.SEGMENT_MISSING, `${where}: no node that holds it can be read (${state})`);
  }

  private entry(recordingId: number, base: number, segmentLength: number): Cached {
    const k = key(recordingId, base);
    const had = this.cached.get(k);
    if (had) return had;
    const r = this.ctx.view.recording(recordingId)?.value;
    const first = Math.max(base, r?.startPosition ?? 0);
    const path = join(this.dir, segmentFileName(recordingId, base));
    let fd = -1;
    try {
      fd = openSync(path, 'w+');
      ftruncateSync(fd, segmentLength); // sparse: unfetched bytes read as zeros
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      throw storageError(err, `cannot create ${path}`);
    }
    const file = new SegmentCopyFile(path, recordingId, base, segmentLength, first, fd);
    const c: Cached = { recordingId, base, file, mapping: file.map(), rangeStart: first, first, fetch: undefined, done: false, tombstone: false, error: undefined, lastUsedMs: this.ctx.nowMs() };
    this.cached.set(k, c);
    return c;
  }

  private startFetch(c: Cached): void {
    c.error = undefined;
    c.done = false;
    const { recordingId, base } = c;
    c.fetch = new RangeFetch(
      this.ctx,
      this.proxy,
      this.requests,
      this.queries,
      c.file,
      {
        recordingId,
        base,
        end: () => {
          const s = this.ctx.view.segment(recordingId, base)?.value;
          return s && s.state === 'sealed' ? s.end : undefined;
        },
        holders: () => this.deps.holdersOf(recordingId, base),
        withDeletionLog: false,
      },
      c.first,
      this.options,
    );
  }

  /** Keeps at most `maxSegments` cached: the least recently used go (fetch stopped, file removed). */
  private evict(): number {
    let work = 0;
    while (this.cached.size > this.maxSegments) {
      let oldest: Cached | undefined;
      for (const c of this.cached.values()) if (!oldest || c.lastUsedMs < oldest.lastUsedMs) oldest = c;
      this.drop(oldest!);
      this.cached.delete(key(oldest!.recordingId, oldest!.base));
      this.evictions++;
      work++;
    }
    return work;
  }

  private drop(c: Cached): void {
    c.fetch?.cancel();
    c.fetch = undefined;
    c.file.close();
    unlinkQuietly(c.file.path);
  }

  private segmentLengthOf(recordingId: number): number {
    const fromView = this.ctx.view.recording(recordingId)?.value.segmentLength;
    if (fromView !== undefined) return fromView;
    try {
      return this.ctx.archive.describe(recordingId).segmentLength;
    } catch {
      throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} is not known to the cluster view`);
    }
  }
}

function key(recordingId: number, base: number): string {
  return `${recordingId}/${base}`;
}

/** Files in the cache directory (tests check the bound). */
export function cachedFiles(dir: string): string[] {
  try {
    return readdirSync(cacheDir(dir));
  } catch {
    return [];
  }
}
