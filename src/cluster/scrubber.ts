/**
 * The scrubber (docs/REPLICATION.md §5.3, invariant 6): re-checks this node's verified copies
 * of sealed segments while they sit idle, so bit rot in a copy nobody reads is found while
 * other verified copies still exist to rebuild it from. A copy is re-checked at most once per
 * `intervalMs`, least recently checked first, at no more than `bytesPerSec` (a token bucket),
 * and a duty cycle walks at most `STEP_BYTES` of frames, so scrubbing never stalls recording.
 *
 * The scrubber only finds; it decides nothing. A copy whose frames fail their CRCs or whose
 * digest differs from its record is handed to the replica manager as suspect: the manager
 * stops counting it, verifies it again in one piece (a deletion that rewrote frames during
 * the walk makes a false alarm, which that check clears) and drops and rebuilds it only as the
 * replica plan allows (never the last copy).
 */
import type { SegmentScrub } from '../storage/segment-ops.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import type { ClusterView } from './cluster-view.js';
import type { Membership } from './membership.js';
import type { LocalSegment } from './replica-plan.js';
import { TokenBucket } from './replication/token-bucket.js';

/** Bytes of frames one duty cycle walks at most. */
export const STEP_BYTES = 1024 * 1024;

export interface ScrubTarget {
  scrubSegment(recordingId: number, base: number): SegmentScrub;
}

export interface ScrubReplicas {
  /** this node's copies, keyed like the replica plan's inventory (the replica manager's) */
  inventory(): Map<string, LocalSegment>;
  isVerified(recordingId: number, base: number): boolean;
  suspect(recordingId: number, base: number): void;
}

export interface ScrubLog {
  warn(obj: object, msg: string): void;
}

export interface ScrubOptions {
  bytesPerSec: number;
  intervalMs: number;
}

interface Running {
  key: string;
  recordingId: number;
  base: number;
  scrub: SegmentScrub;
  walked: number;
}

export class Scrubber {
  /** segment key -> when its copy was last checked (first sight counts: it was verified when installed or at start) */
  private readonly checkedAt = new Map<string, number>();
  private readonly bucket: TokenBucket | undefined;
  private current: Running | undefined;
  private nextListMs = 0;
  readonly stats = { segments: 0, bytes: 0, failures: 0 };

  constructor(
    private readonly view: ClusterView,
    private readonly member: Pick<Membership, 'ready' | 'trusted'>,
    private readonly archive: ScrubTarget,
    private readonly replicas: ScrubReplicas,
    private readonly isRecordingHere: (recordingId: number) => boolean,
    private readonly options: ScrubOptions,
    private readonly nowMs: () => number,
    private readonly log: ScrubLog,
  ) {
    if (options.bytesPerSec > 0) this.bucket = new TokenBucket(options.bytesPerSec, STEP_BYTES, nowMs());
  }

  doWork(): number {
    if (!this.bucket || !this.member.ready || !this.member.trusted()) return 0;
    const now = this.nowMs();
    if (!this.current) {
      if (now < this.nextListMs) return 0;
      this.current = this.pick(now);
      if (!this.current) {
        this.nextListMs = now + Math.min(1_000, this.options.intervalMs);
        return 0;
      }
    }
    if (!this.bucket.tryTake(STEP_BYTES, now)) return 0;
    const c = this.current;
    if (!this.replicas.isVerified(c.recordingId, c.base) || this.isRecordingHere(c.recordingId)) {
      this.current = undefined; // dropped, suspected or being written meanwhile: nothing to scrub
      return 1;
    }
    try {
      const before = c.scrub.offset;
      const done = c.scrub.step(STEP_BYTES);
      const walked = c.scrub.offset - before;
      this.bucket.giveBack(STEP_BYTES - walked);
      c.walked += walked;
      if (done) this.finish(c, now);
    } catch (err) {
      this.fail(c, now, err);
    }
    return 1;
  }

  /** The least recently checked verified copy whose interval has passed. */
  private pick(now: number): Running | undefined {
    let best: { recordingId: number; base: number; key: string; at: number } | undefined;
    for (const [key, l] of this.replicas.inventory()) {
      if (l.state !== 'present' || !l.verified || this.isRecordingHere(l.recordingId)) continue;
      const s = this.view.segment(l.recordingId, l.base)?.value;
      if (!s || s.state !== 'sealed' || !s.digest) continue;
      let at = this.checkedAt.get(key);
      if (at === undefined) {
        at = now;
        this.checkedAt.set(key, at);
      }
      if (now - at < this.options.intervalMs) continue;
      if (!best || at < best.at) best = { recordingId: l.recordingId, base: l.base, key, at };
    }
    if (!best) return undefined;
    try {
      return { ...best, scrub: this.archive.scrubSegment(best.recordingId, best.base), walked: 0 };
    } catch {
      this.checkedAt.set(best.key, now);
      return undefined;
    }
  }

  private finish(c: Running, now: number): void {
    this.current = undefined;
    this.checkedAt.set(c.key, now);
    this.stats.segments++;
    this.stats.bytes += c.walked;
    const record = this.view.segment(c.recordingId, c.base)?.value;
    if (!record?.digest) return;
    const digest = c.scrub.summary().digest;
    if (digest !== record.digest) this.suspect(c, 'digest differs from the segment record');
  }

  private fail(c: Running, now: number, err: unknown): void {
    this.current = undefined;
    this.checkedAt.set(c.key, now);
    if (isVcrError(err, ErrorCode.CORRUPT_SEGMENT) || isVcrError(err, ErrorCode.DIGEST_MISMATCH)) {
      this.suspect(c, (err as Error).message);
    }
    // any other error (the copy was dropped or moved meanwhile) is not a finding
  }

  private suspect(c: Running, why: string): void {
    this.stats.failures++;
    this.log.warn({ recordingId: c.recordingId, base: c.base, why }, 'scrub found a bad copy: verifying it again before it counts');
    this.replicas.suspect(c.recordingId, c.base);
  }
}
