/**
 * The pure half of retention (docs/ARCHIVER.md "Retention"): which channels a pass looks at,
 * where each channel's cut lies (events before it are expired), and which intervals before
 * the cut go and which a hold keeps. Holds are subtracted with the storage's own function
 * (`subtractHolds`, the one the deleter uses), so what a plan says goes is what the delete
 * path removes.
 *
 * Intervals here are half-open [from, to) in UTC ns, like storage's; the control protocol's
 * closed intervals are converted where they enter (holds) and leave (entries, deletes).
 */
import { subtractHolds } from '../storage/deleter.js';
import type { QuarantineInfo, RecordingInfo } from './ports.js';
import { limitsFor, type RetentionConfig, type RetentionLimits } from './retention-config.js';

/** The recordings of one channel, by its primary name, and every name they go by. */
export interface ChannelGroup {
  channel: string;
  names: string[];
  recordings: RecordingInfo[];
  /** The earliest start of its recordings: nothing of the channel is older. */
  oldestUtcNs: bigint;
}

export interface ChannelPolicy {
  group: ChannelGroup;
  limits: RetentionLimits;
}

/** A hold as retention sees it: half-open, '' for every channel. */
export interface HoldSpan {
  holdId: number;
  channel: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
}

export type PieceKind = 'delete' | 'held';

/** One interval before a channel's cut: it goes (delete) or a hold keeps it (held). */
export interface Piece {
  kind: PieceKind;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  holdId?: number;
}

const NS_PER_MS = 1_000_000n;

/** Recordings grouped by primary channel name; deleted and invalid recordings hold nothing. */
export function channelGroups(recordings: readonly RecordingInfo[]): ChannelGroup[] {
  const byName = new Map<string, ChannelGroup>();
  for (const r of recordings) {
    if (r.state === 'deleted' || r.state === 'invalid') continue;
    let g = byName.get(r.channel);
    if (!g) {
      g = { channel: r.channel, names: [r.channel], recordings: [], oldestUtcNs: r.startUtcNs };
      byName.set(r.channel, g);
    }
    g.recordings.push(r);
    if (r.startUtcNs < g.oldestUtcNs) g.oldestUtcNs = r.startUtcNs;
    for (const a of r.aliases) if (!g.names.includes(a)) g.names.push(a);
  }
  return [...byName.values()].sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
}

/** The channels some limit applies to, with their limits. */
export function channelPolicies(config: RetentionConfig, recordings: readonly RecordingInfo[]): ChannelPolicy[] {
  const out: ChannelPolicy[] = [];
  for (const group of channelGroups(recordings)) {
    const limits = limitsFor(config, group.names);
    if (limits) out.push({ group, limits });
  }
  return out;
}

/** The quarantines (closed intervals on the wire) as half-open spans. */
export function holdSpans(quarantines: readonly QuarantineInfo[]): HoldSpan[] {
  return quarantines.map((q) => ({ holdId: q.quarantineId, channel: q.channel, fromUtcNs: q.fromUtcNs, toUtcNs: q.toUtcNs + 1n }));
}

/** The holds that protect events of the channel: every-channel holds and holds naming any of its names. */
export function holdsFor(group: ChannelGroup, holds: readonly HoldSpan[]): HoldSpan[] {
  return holds.filter((h) => h.channel === '' || group.names.includes(h.channel));
}

/** Events stamped before this are older than maxAge at `nowUtcNs`. */
export function ageCut(nowUtcNs: bigint, maxAgeMs: number): bigint {
  return nowUtcNs - BigInt(maxAgeMs) * NS_PER_MS;
}

/**
 * The intervals of [fromUtcNs, cut): those no hold covers (delete), in time order, then each
 * hold's part of it (held), in hold order. Held pieces of different holds may overlap.
 */
export function planPieces(fromUtcNs: bigint, cut: bigint, holds: readonly HoldSpan[]): Piece[] {
  if (cut <= fromUtcNs) return [];
  const out: Piece[] = subtractHolds(fromUtcNs, cut, holds).map(([a, b]) => ({ kind: 'delete' as const, fromUtcNs: a, toUtcNs: b }));
  for (const h of holds) {
    const a = h.fromUtcNs > fromUtcNs ? h.fromUtcNs : fromUtcNs;
    const b = h.toUtcNs < cut ? h.toUtcNs : cut;
    if (a < b) out.push({ kind: 'held', fromUtcNs: a, toUtcNs: b, holdId: h.holdId });
  }
  return out;
}

/** True when the recording may hold events in [from, to). */
export function overlapsPiece(r: RecordingInfo, fromUtcNs: bigint, toUtcNs: bigint): boolean {
  if (r.startUtcNs >= toUtcNs) return false;
  return r.state === 'recording' || r.stopUtcNs >= fromUtcNs;
}

/**
 * The channel's stream bytes at and after time t (frame headers included, as positions count
 * them): whole recordings that start at or after t, the part from t on of a recording that
 * spans it (its position of t), nothing of recordings that ended before t.
 */
export function bytesFrom(recordings: readonly RecordingInfo[], t: bigint, position: (r: RecordingInfo) => number | Promise<number>): number | Promise<number> {
  let total = 0;
  const later: Promise<number>[] = [];
  for (const r of recordings) {
    if (r.startUtcNs >= t) total += Math.max(0, r.stopPosition - r.startPosition);
    else if (r.state === 'recording' || r.stopUtcNs >= t) {
      const p = position(r);
      if (typeof p === 'number') total += Math.max(0, r.stopPosition - p);
      else later.push(p.then((x) => Math.max(0, r.stopPosition - x)));
    }
  }
  if (later.length === 0) return total;
  return Promise.all(later).then((xs) => xs.reduce((s, x) => s + x, total));
}

/**
 * Finds the earliest time from which a channel holds at most maxBytes (binary search over UTC
 * ns on the non-increasing bytesFrom): events before it are expired. A step evaluates a few
 * times; an evaluation that needs positions found elsewhere (a cluster) is waited for across
 * steps, so no duty cycle blocks on it.
 */
export class BytesCutSearch {
  /** undefined once done: the channel is within its limit */
  cut: bigint | undefined;
  done = false;
  private lo: bigint;
  private hi: bigint;
  private probing: bigint | undefined;
  private waiting = false;
  private failure: unknown;

  constructor(
    private readonly recordings: readonly RecordingInfo[],
    private readonly maxBytes: number,
    oldestUtcNs: bigint,
    nowUtcNs: bigint,
    private readonly findPosition: (recordingId: number, utcNs: bigint) => number | Promise<number>,
  ) {
    this.lo = oldestUtcNs;
    this.hi = nowUtcNs + 1n;
  }

  /** Up to `budget` evaluations; returns how many ran. Throws what a position lookup threw. */
  step(budget = 16): number {
    if (this.failure !== undefined) throw this.failure;
    if (this.done || this.waiting) return 0;
    let work = 0;
    while (!this.done && !this.waiting && work < budget) {
      // the first probe is the oldest time: a channel within its limit needs no search
      const t = this.probing === undefined ? this.lo : (this.lo + this.hi) / 2n;
      const first = this.probing === undefined;
      this.probing = t;
      work++;
      const v = bytesFrom(this.recordings, t, (r) => this.findPosition(r.recordingId, t));
      if (typeof v === 'number') this.apply(t, v, first);
      else {
        this.waiting = true;
        v.then(
          (x) => {
            this.waiting = false;
            this.apply(t, x, first);
          },
          (err: unknown) => {
            this.waiting = false;
            this.failure = err;
          },
        );
      }
    }
    return work;
  }

  private apply(t: bigint, bytes: number, first: boolean): void {
    if (first) {
      if (bytes <= this.maxBytes) {
        this.done = true;
        return;
      }
    } else if (bytes <= this.maxBytes) this.hi = t;
    else this.lo = t;
    if (this.hi - this.lo <= 1n) {
      this.cut = this.hi;
      this.done = true;
    }
  }
}
