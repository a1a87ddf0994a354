/**
 * A fence participant (docs/REPLICATION.md §7). The coordinator asks, after its `fencing`
 * write committed at revision V, what this node holds of recording R's open segments. The
 * answer waits until this node's view shows `r/R` at a mod revision >= V in state `fencing`
 * (or later: stopped): from then on the mirror receiver takes no frame of R (it accepts frames
 * only for a recording the view shows being recorded), so the report cannot be outgrown by
 * frames still arriving. A view that shows R recording again at >= V (the owner's new
 * incarnation took it over) gets an ERROR answer: that fence is over.
 *
 * The report has, for each open segment of R (in the view) that this node holds — a `.part`
 * being received, an installed segment, or the recorder's own segment — the end of its last
 * good frame, its DATA frames, the digest of [base, end) computed as storage computes it,
 * the first and last UTC, and `complete` (the copy reached the padding that rolls to the next
 * segment).
 */
import { FetchCode } from '../../../codecs/generated/replication/index.js';
import type { InboundPeer } from '../peer-network.js';
import type { FenceReport } from '../repair-coordinator.js';
import type { IncomingParts } from './incoming-parts.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';

interface PendingQuery {
  peer: InboundPeer;
  requestId: number;
  recordingId: number;
  revision: number;
}

export class FenceServer {
  private pending: PendingQuery[] = [];
  answered = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly parts: IncomingParts,
  ) {}

  onFenceQuery(peer: InboundPeer, requestId: number, recordingId: number, revision: number): void {
    this.pending.push({ peer, requestId, recordingId, revision });
  }

  onInboundClosed(peer: InboundPeer): void {
    this.pending = this.pending.filter((q) => q.peer !== peer);
  }

  /** Queries still waiting for the view. */
  get waiting(): number {
    return this.pending.length;
  }

  doWork(): number {
    if (this.pending.length === 0) return 0;
    let work = 0;
    const still: PendingQuery[] = [];
    for (const q of this.pending) {
      if (this.answer(q)) work++;
      else still.push(q);
    }
    this.pending = still;
    return work;
  }

  close(): void {
    this.pending = [];
  }

  /** Answers `q` if the view allows it; false while it must wait. */
  private answer(q: PendingQuery): boolean {
    const c = q.peer.connection;
    if (!c.isOpen) return true;
    const r = this.ctx.view.recording(q.recordingId);
    if (!r || r.modRevision < q.revision) return false;
    if (r.value.state === 'recording') {
      this.proxy.fenceReply(c, q.requestId, q.recordingId, FetchCode.ERROR, [], `recording ${q.recordingId} is being recorded again (revision ${r.modRevision})`);
      return true;
    }
    let segments: FenceReport['segments'];
    try {
      segments = this.report(q.recordingId);
    } catch (err) {
      this.proxy.fenceReply(c, q.requestId, q.recordingId, FetchCode.ERROR, [], (err as Error).message);
      return true;
    }
    this.proxy.fenceReply(c, q.requestId, q.recordingId, FetchCode.OK, segments);
    this.answered++;
    return true;
  }

  /** What this node holds of R's open segments (see the module comment). */
  report(recordingId: number): FenceReport['segments'] {
    const r = this.ctx.view.recording(recordingId)?.value;
    const out: FenceReport['segments'] = [];
    if (!r) return out;
    for (const s of this.ctx.view.segmentsOf(recordingId)) {
      if (s.value.state !== 'open') continue;
      const base = s.value.base;
      const p = this.prefixOf(recordingId, base, r.segmentLength, r.startPosition);
      if (!p) continue;
      out.push({ base, end: p.end, frames: p.frames, digest: p.digest, firstUtcNs: p.firstUtcNs, lastUtcNs: p.lastUtcNs, complete: p.complete });
    }
    return out;
  }

  private prefixOf(recordingId: number, base: number, segmentLength: number, startPosition: number) {
    const open = this.parts.get(recordingId, base);
    if (open) return open.summary();
    if (this.parts.filesNotOpen().some((f) => f.recordingId === recordingId && f.base === base)) {
      // a part an earlier run left and nobody resumed yet
      return this.parts.open(recordingId, base, segmentLength, startPosition).summary();
    }
    try {
      const listed = this.ctx.archive.listSegments(recordingId).find((x) => x.base === base);
      if (!listed || listed.state !== 'present') return undefined;
      return this.ctx.archive.segmentPrefix(recordingId, base);
    } catch {
      return undefined; // the recording is not known here
    }
  }
}
