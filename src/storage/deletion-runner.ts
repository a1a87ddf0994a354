/**
 * Applies a deletion to the recordings of an archive: each recording it covers loses its events
 * in the interval that no hold covers. The recordings it covers are the ones it names (resolved
 * when it was decided: at the cluster's commit, or at the local request), so applying it late
 * never touches a recording made after; a deletion recorded before format 4 names none and
 * covers the recordings of its channel (or all). The holds are the deletion's own (decided
 * elsewhere) or, for a local deletion, the quarantines held now.
 * Segments that cannot be read here (held elsewhere, damaged) are passed over. After a
 * segment copy is installed, the applied deletions with explicit holds that may touch it are
 * applied to it again, so an older copy cannot bring deleted events back.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { applyDeletion, type DeletionTarget } from './deleter.js';
import type { SegmentSummary } from './digest.js';
import type { RecordingEntry, RecordingTable } from './recording-table.js';
import type { DeletionLedger, QuarantineStore } from './stores.js';
import type { DeletionRecord, HoldInterval } from './types.js';

/** The deletion covers this recording: it names it, or (naming none, an older record) its channel does. */
function covers(req: DeletionRecord, ids: ReadonlySet<number> | undefined, recordingId: number, named: (c: string | undefined) => boolean): boolean {
  if (req.recordings === undefined) return named(req.channel);
  return ids ? ids.has(recordingId) : req.recordings.includes(recordingId);
}

const SEGMENT_ERRORS: readonly number[] = [ErrorCode.SEGMENT_ELSEWHERE, ErrorCode.SEGMENT_MISSING, ErrorCode.SEGMENT_TRUNCATED];

export interface DeletionResult {
  framesDeleted: number;
  bytesReclaimed: number;
}

export class DeletionRunner {
  constructor(
    private readonly dir: string,
    private readonly table: RecordingTable,
    private readonly quarantines: QuarantineStore,
    private readonly ledger: DeletionLedger,
    private readonly sealedOnly = false,
  ) {}

  /** The recordings `channel` (or every channel, undefined) names now: what a local deletion covers. */
  resolve(channel: string | undefined): number[] {
    const out: number[] = [];
    for (const e of this.table.sorted()) {
      const d = this.table.liveDescriptor(e);
      if (d && d.state === 'valid' && (channel === undefined || channel === d.channel || d.aliases.includes(channel))) out.push(e.id);
    }
    return out;
  }

  /** Applies `req` to every recording it covers. */
  run(req: DeletionRecord): DeletionResult {
    let framesDeleted = 0;
    let bytesReclaimed = 0;
    const ids = req.recordings ? new Set(req.recordings) : undefined; // one lookup per recording, however many it names
    for (const e of this.table.sorted()) {
      const r = this.applyTo(e, req, ids);
      framesDeleted += r.framesDeleted;
      bytesReclaimed += r.bytesReclaimed;
    }
    return { framesDeleted, bytesReclaimed };
  }

  /** Deletions a crash left half done (recorded, not completed) are applied again. */
  finishPending(): void {
    for (const d of this.ledger.deletions()) {
      if (d.framesDeleted < 0) this.ledger.complete(d, this.run(d));
    }
  }

  /** After a segment copy was installed: the deletions decided with explicit holds that may touch it and cover its recording apply to it too. */
  reapply(e: RecordingEntry, s: SegmentSummary): void {
    if (s.frames === 0) return;
    for (const del of this.ledger.deletions()) {
      if (del.holds === undefined || del.framesDeleted < 0) continue;
      if (del.toUtcNs <= s.firstUtcNs || del.fromUtcNs > s.lastUtcNs) continue;
      this.applyTo(e, del);
    }
  }

  private applyTo(e: RecordingEntry, req: DeletionRecord, ids?: ReadonlySet<number>): DeletionResult {
    const d = this.table.liveDescriptor(e);
    const none = { framesDeleted: 0, bytesReclaimed: 0 };
    if (!d || !e.files || !e.index || d.state !== 'valid') return none;
    const named = (c: string | undefined): boolean => c === undefined || c === d.channel || d.aliases.includes(c);
    if (!covers(req, ids, e.id, named)) return none;
    const holds: HoldInterval[] = (req.holds ?? this.quarantines.quarantines()).filter((q) => named(q.channel));
    const target: DeletionTarget = {
      recordingId: e.id,
      files: e.files,
      index: e.index,
      end: this.sealedOnly && e.writer ? Math.min(e.writer.segmentBase, this.table.endOf(e).position()) : this.table.endOf(e).position(),
      activeBase: e.writer ? e.writer.segmentBase : Number.MAX_SAFE_INTEGER,
      seek: (utc) => this.seek(e, utc),
    };
    const r = applyDeletion(target, req.fromUtcNs, req.toUtcNs, holds);
    e.cache!.invalidate();
    if (r.framesDeleted > 0 && !e.writer) e.index.writeAll(this.dir);
    return r;
  }

  /** A seek that starts before segments that cannot be read here (the deleter skips them) instead of failing on them. */
  private seek(e: RecordingEntry, utcNs: bigint): number {
    try {
      return this.table.findPosition(e, utcNs);
    } catch (err) {
      if (!(err instanceof VcrError) || !SEGMENT_ERRORS.includes(err.code)) throw err;
      const from = e.index!.floorBefore(utcNs);
      return from < 0 ? this.table.liveDescriptor(e)!.startPosition : from;
    }
  }
}
