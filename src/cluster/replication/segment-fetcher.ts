/**
 * Copies sealed segments from nodes that hold verified copies (docs/REPLICATION.md §5.5:
 * catch-up, repair, rejoin). `fetch(spec)` resolves with the installed copy's summary:
 *
 * 1. the segment's `.part` in `<dir>/incoming` is taken over (a mirror stream feeding it stops)
 *    and the copy resumes at its last good frame (the segment's start when there is none):
 *    frames already received are not asked for again;
 * 2. windows of frames are asked of the holders the view shows live (those given first, in
 *    their order: see liveHolders), paced by a token bucket of
 *    `repairBytesPerSec` shared by every fetch of this node; a lost or failing holder is
 *    replaced by the next at the same position; RESTART copies from the segment's start;
 * 3. the last window brings the holder's deletion log; the part and the log are installed with
 *    `installSegment`, which checks the digest against `spec.digest`: the digest of the frames
 *    the part checked (CRC) as they arrived (`PartFile.checkedSummary`), or, when the part
 *    cannot vouch for all of them or the holder sent a deletion log, of the file read back
 *    (REPLICATION.md §5.3, "What install verifies"). A holder whose copy is a
 *    tombstone (every frame deleted) sends its log alone: the copy becomes a tombstone here
 *    (`installTombstone`, the digest checked from the log) and the part is discarded.
 *
 * A copy whose digest fails is discarded, its holders get a Suspect, and the copy starts over
 * with the holders rotated, until each was first once; then the fetch rejects with
 * DIGEST_MISMATCH. Fetches run fewest live copies (holders) first, in the order they were
 * asked among equals, `maxConcurrent` at a time. Windows are `repairBytesPerSec / 8` rounded
 * down to a power of two, from 256 KiB to 16 MiB, unless `windowBytes` says otherwise.
 */
import { writeFileSync } from 'node:fs';
import type { SegmentSummary } from '../../storage/archive.js';
import { storageError } from '../../storage/io-errors.js';
import { ErrorCode, VcrError, isVcrError } from '../../util/errors.js';
import { unlinkQuietly, type IncomingParts, type PartFile } from './incoming-parts.js';
import type { PeerQueries } from './peer-queries.js';
import { RangeFetch, RangeFetchState, type RangeFetchOptions } from './range-fetch.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';
import type { RequestRegistry } from './request-registry.js';
import { TokenBucket } from './token-bucket.js';

export interface FetchSpec {
  recordingId: number;
  base: number;
  /** where the caller's local copy ends (base: none); the copy resumes at the end of this node's `.part` */
  from: number;
  /** the sealed end and digest of the segment record */
  end: number;
  digest: string;
  /** nodes with live copies, in preference order */
  holders: string[];
}

export interface FetcherDeps {
  /** the local descriptor of R exists before a copy of one of its segments is installed */
  ensureDescriptor(recordingId: number): void;
}

export interface FetcherOptions extends Omit<RangeFetchOptions, 'bucket'> {
  repairBytesPerSec: number;
  /** fetches copying at once, default 2 */
  maxConcurrent?: number;
}

interface Job {
  spec: FetchSpec;
  resolve(s: SegmentSummary): void;
  reject(e: VcrError): void;
  attempts: number;
  part?: PartFile;
  range?: RangeFetch;
}

const MIN_WINDOW_BYTES = 256 * 1024;
const MAX_WINDOW_BYTES = 16 * 1024 * 1024;

export class SegmentFetcher {
  private readonly queue: Job[] = [];
  private active: Job[] = [];
  private readonly bucket: TokenBucket;
  private readonly maxConcurrent: number;
  private readonly windowBytes: number;
  bytesFetched = 0;
  installs = 0;
  /** copies that started over from the segment's start (a holder answered RESTART) */
  restarts = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly requests: RequestRegistry,
    private readonly queries: PeerQueries,
    private readonly parts: IncomingParts,
    private readonly deps: FetcherDeps,
    private readonly options: FetcherOptions,
  ) {
    // windows as large as pacing allows: one round trip per window, and a bucket that refills a
    // window in ~1/8 s keeps a low rate smooth
    this.windowBytes = options.windowBytes ?? Math.min(MAX_WINDOW_BYTES, Math.max(MIN_WINDOW_BYTES, 2 ** Math.floor(Math.log2(options.repairBytesPerSec / 8))));
    this.bucket = new TokenBucket(options.repairBytesPerSec, Math.max(this.windowBytes, options.repairBytesPerSec / 10), ctx.nowMs());
    this.maxConcurrent = options.maxConcurrent ?? 2;
  }

  /** Copies and installs a sealed segment; resolves with the installed copy's summary. */
  fetch(spec: FetchSpec): Promise<SegmentSummary> {
    return new Promise((resolve, reject) => {
      const job: Job = { spec: { ...spec, holders: [...spec.holders] }, resolve, reject, attempts: 0 };
      // fewest live copies first (the holders are the live copies), in the order asked among equals
      const at = this.queue.findIndex((j) => j.spec.holders.length > job.spec.holders.length);
      if (at < 0) this.queue.push(job);
      else this.queue.splice(at, 0, job);
    });
  }

  /** Fetches waiting and copying. */
  get pending(): { queued: number; active: number } {
    return { queued: this.queue.length, active: this.active.length };
  }

  /** Is (R, base) being fetched or queued? */
  has(recordingId: number, base: number): boolean {
    const is = (j: Job): boolean => j.spec.recordingId === recordingId && j.spec.base === base;
    return this.active.some(is) || this.queue.some(is);
  }

  doWork(): number {
    let work = 0;
    while (this.active.length < this.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!;
      if (this.start(job)) this.active.push(job);
      work++;
    }
    for (const job of this.active) {
      const range = job.range!;
      const before = range.file.bytesWritten;
      work += range.doWork();
      this.bytesFetched += range.file.bytesWritten - before;
      if (range.done) this.restarts += range.restarts;
      if (range.state === RangeFetchState.DONE) work += this.complete(job);
      else if (range.state === RangeFetchState.FAILED) {
        this.stop(job, false);
        job.reject(range.error ?? new VcrError(ErrorCode.REPLICA_UNAVAILABLE, 'fetch failed'));
        work++;
      }
    }
    this.active = this.active.filter((j) => j.range !== undefined);
    return work;
  }

  close(): void {
    for (const job of [...this.active, ...this.queue]) {
      if (job.range) this.stop(job, false);
      job.reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, 'the replication services are closing'));
    }
    this.active = [];
    this.queue.length = 0;
  }

  /** Takes the segment's part over and starts copying; false (rejected) when it cannot. */
  private start(job: Job): boolean {
    const { recordingId, base, end } = job.spec;
    const r = this.ctx.view.recording(recordingId)?.value;
    if (!r) {
      job.reject(new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} is not in the cluster view`));
      return false;
    }
    let part: PartFile;
    try {
      part = this.parts.open(recordingId, base, r.segmentLength, r.startPosition);
      if (part.end > end && !part.cutAt(end)) part.rewindTo(part.first);
    } catch (err) {
      job.reject(storageError(err, `cannot open the part of segment ${base} of recording ${recordingId}`));
      return false;
    }
    part.owner = 'fetch';
    job.part = part;
    const named = rotate(job.spec.holders, job.attempts);
    job.range = new RangeFetch(
      this.ctx,
      this.proxy,
      this.requests,
      this.queries,
      part,
      { recordingId, base, end: () => end, holders: () => this.liveHolders(recordingId, base, named), withDeletionLog: true },
      part.first,
      { ...this.options, windowBytes: this.windowBytes, bucket: this.bucket },
    );
    return true;
  }

  /**
   * Who may serve (R, base) now: the live copies the view shows (the holders named when the
   * fetch was asked first, in their order, then the others), so a holder that died while the
   * fetch was queued is not waited for and one that joined since is used. Without a segment
   * record in the view, the named holders.
   */
  private liveHolders(recordingId: number, base: number, named: readonly string[]): string[] {
    const s = this.ctx.view.segment(recordingId, base)?.value;
    if (!s) return [...named];
    const live = this.ctx.view.liveCopies(s).map((e) => e.node);
    return [...named.filter((n) => live.includes(n)), ...live.filter((n) => !named.includes(n))];
  }

  /** The copy is complete: deletion log beside it, install (digest check), resolve. */
  private complete(job: Job): number {
    const { recordingId, base, digest } = job.spec;
    const part = job.part!;
    const range = job.range!;
    const logPath = `${part.path}.dlog`;
    try {
      let summary: SegmentSummary;
      if (range.tombstone) {
        // every frame was deleted on the holder: the copy is its deletion log, installed as a tombstone
        writeFileSync(logPath, range.deletionLog, { flush: true });
        this.deps.ensureDescriptor(recordingId);
        summary = this.ctx.archive.installTombstone(recordingId, base, logPath, digest);
      } else {
        if (part.end > job.spec.end && !part.cutAt(job.spec.end)) throw new VcrError(ErrorCode.DIGEST_MISMATCH, `no frame of the copy ends at the sealed end ${job.spec.end}`);
        part.sync();
        if (range.deletionLog.length > 0) writeFileSync(logPath, range.deletionLog, { flush: true });
        this.deps.ensureDescriptor(recordingId);
        const checked = { checked: part.checkedSummary(), index: part.checkedIndex() };
        summary = this.ctx.archive.installSegment(recordingId, base, part.path, digest, range.deletionLog.length > 0 ? { deletionLogPath: logPath, ...checked } : checked);
      }
      this.stop(job, true);
      this.installs++;
      job.resolve(summary);
    } catch (err) {
      unlinkQuietly(logPath);
      const e = isVcrError(err) ? err : storageError(err, `cannot install segment ${base} of recording ${recordingId}`);
      const corrupt = e.code === ErrorCode.DIGEST_MISMATCH || e.code === ErrorCode.CORRUPT_SEGMENT;
      if (!corrupt) {
        this.stop(job, false);
        job.reject(e);
        return 1;
      }
      this.ctx.log.warn({ recordingId, base, holders: [...range.contributors], error: e.message }, 'fetched copy does not verify; discarded');
      for (const h of range.contributors) this.queries.suspect(h, recordingId, base);
      this.parts.remove(part);
      job.part = undefined;
      job.range = undefined;
      job.attempts++;
      if (job.attempts >= Math.max(1, job.spec.holders.length)) job.reject(e);
      else this.queue.unshift(job); // again from scratch, another holder first
    }
    return 1;
  }

  /** Ends the job's copy: installed (the part file moved into the archive) or left for a later resume. */
  private stop(job: Job, installed: boolean): void {
    job.range?.cancel();
    const part = job.part;
    if (part) {
      part.owner = undefined;
      this.parts.release(part);
      if (installed) this.parts.removeFile(part.recordingId, part.base); // nothing is left there; a stale file would be resumed
    }
    job.part = undefined;
    job.range = undefined;
  }
}

function rotate<T>(xs: readonly T[], by: number): T[] {
  if (xs.length === 0) return [];
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}
