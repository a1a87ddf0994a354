/**
 * The target side of mirroring (docs/REPLICATION.md §5.2-5.3). A recorder's MirrorStart for
 * segment (R, base) is accepted only while this node's view shows `r/R` recorded by that
 * peer's incarnation (its Hello), at a view revision at least the one its Hello named; else
 * it is answered `accept FALSE` (the recorder asks again later). Accepted frames are checked
 * (structure, CRC) and written at their offsets into `<dir>/incoming/<R>-<base>.part`; the
 * answer to MirrorStart, and to a bad or out-of-place batch, is a MirrorResume at the part's
 * end (its last good frame), so a stream resumes there whatever happened. Acks go every
 * ~64 KiB and whenever this side is idle.
 *
 * Once the view shows the segment sealed and the part holds every frame up to its `end` (and
 * the padding that rolls to the next segment, unless the recording ends there), the part is
 * installed (`installSegment` checks the digest: of the frames the part CRC-checked as they
 * arrived, see PartFile.checkedSummary) and `onCopied` tells the caller, which joins
 * the replica set in etcd. A digest that does not verify discards the part (`onCorrupt`).
 * Parts left by an earlier run are resumed at their last good frame, or removed when the view
 * says nobody needs them. A recording the view shows fenced, taken over or stopped gets no
 * more frames (a recording stopped by its owner still gets the frames below its stop position).
 */
import type { SegmentSummary } from '../../storage/archive.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { ClusterRecording } from '../cluster-keys.js';
import type { InboundPeer, PeerHello } from '../peer-network.js';
import type { IncomingParts, PartFile } from './incoming-parts.js';
import type { MirrorRequestHandler } from './replication-adapter.js';
import { recordedBy, type ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';
import { AppendStatus } from './segment-copy-file.js';

export interface ReceiverDeps {
  /** the local descriptor of R exists before a copy of one of its segments is installed */
  ensureDescriptor(recordingId: number): void;
  /** a verified copy of (R, base) was installed here: join the replica set */
  onCopied(recordingId: number, base: number, summary: SegmentSummary): void;
  /** a copy of (R, base) failed its digest and was discarded */
  onCorrupt(recordingId: number, base: number, error: VcrError): void;
}

export interface ReceiverOptions {
  /** an Ack goes after this many bytes stored, default 64 KiB (and whenever idle) */
  ackBytes?: number;
  /** a failed install (not a digest mismatch) is tried again after this, default 1,000 ms */
  installRetryMs?: number;
}

interface InboundStream {
  peer: InboundPeer;
  part: PartFile;
  unacked: number;
  /** the position the last resume asked for (no second ask for the same place) */
  resumeAskedAt: number;
}

export class ReplicaReceiver implements MirrorRequestHandler {
  /** per inbound peer: its streams by `R/base` */
  private readonly streams = new Map<InboundPeer, Map<string, InboundStream>>();
  private readonly retryAtMs = new Map<PartFile, number>();
  private scanned = false;
  private readonly ackBytes: number;
  private readonly installRetryMs: number;
  bytesReceived = 0;
  crcErrors = 0;
  installs = 0;
  refusals = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly parts: IncomingParts,
    private readonly deps: ReceiverDeps,
    options: ReceiverOptions = {},
  ) {
    this.ackBytes = options.ackBytes ?? 64 * 1024;
    this.installRetryMs = options.installRetryMs ?? 1000;
  }

  onMirrorStart(peer: InboundPeer, recordingId: number, base: number): void {
    const hello = peer.hello!;
    const r = this.ctx.view.recording(recordingId)?.value;
    const refuse = (): void => {
      this.refusals++;
      this.proxy.mirrorResume(peer.connection, recordingId, base, base, false);
    };
    if (!r || this.ctx.view.revision < hello.viewRevision || !accepts(this.ctx, r, recordingId, hello, base)) return refuse();
    const segLen = r.segmentLength;
    if (!Number.isSafeInteger(base) || base < 0 || base % segLen !== 0 || base + segLen <= r.startPosition) return refuse();
    let part: PartFile;
    try {
      part = this.parts.open(recordingId, base, segLen, r.startPosition);
    } catch (err) {
      this.ctx.log.error({ recordingId, base, error: (err as Error).message }, 'cannot open a part file for a mirror stream');
      return refuse();
    }
    if (part.owner === 'fetch') return refuse();
    part.owner = 'mirror';
    let mine = this.streams.get(peer);
    if (!mine) this.streams.set(peer, (mine = new Map()));
    this.dropStreamsOf(part, peer);
    mine.set(key(recordingId, base), { peer, part, unacked: 0, resumeAskedAt: part.next });
    this.proxy.mirrorResume(peer.connection, recordingId, base, part.next, true);
  }

  onMirrorFrames(peer: InboundPeer, recordingId: number, position: number, bytes: Buffer, offset: number, length: number): void {
    const r = this.ctx.view.recording(recordingId)?.value;
    if (!r) return;
    const base = position - (position % r.segmentLength);
    const stream = this.streams.get(peer)?.get(key(recordingId, base));
    if (!stream) return; // no stream (never started, refused or ended): frames in flight
    const part = stream.part;
    // a fetch took the part over (or it was installed, or discarded): this stream is over
    const current = this.parts.get(recordingId, base) === part && part.owner === 'mirror';
    if (!current || !accepts(this.ctx, r, recordingId, peer.hello!, position + length)) {
      this.endStream(stream);
      this.refusals++;
      this.proxy.mirrorResume(peer.connection, recordingId, base, part.next, false);
      return;
    }
    let status: AppendStatus;
    try {
      const res = part.append(position, bytes, offset, length);
      status = res.status;
      this.bytesReceived += res.stored;
      stream.unacked += res.stored;
    } catch (err) {
      this.ctx.log.error({ recordingId, base, error: (err as Error).message }, 'cannot write mirrored frames; the stream ends');
      this.endStream(stream);
      this.proxy.mirrorResume(peer.connection, recordingId, base, part.next, false);
      return;
    }
    if (status === AppendStatus.OK) {
      stream.resumeAskedAt = -1;
    } else {
      if (status === AppendStatus.BAD_CRC) {
        this.crcErrors++;
        this.ctx.log.warn({ recordingId, base, node: peer.hello!.node, position: part.next }, 'mirrored frame failed its CRC; resuming from the last good frame');
      }
      if (stream.resumeAskedAt !== part.next) {
        stream.resumeAskedAt = part.next;
        this.proxy.mirrorResume(peer.connection, recordingId, base, part.next, true);
      }
    }
    if (stream.unacked >= this.ackBytes) this.sendAck(stream);
  }

  onInboundClosed(peer: InboundPeer): void {
    const mine = this.streams.get(peer);
    if (!mine) return;
    for (const s of [...mine.values()]) this.endStream(s);
    this.streams.delete(peer);
  }

  doWork(): number {
    let work = 0;
    if (!this.scanned && this.ctx.view.revision > 0) {
      this.scanned = true;
      work += this.resumeLeftParts();
    }
    for (const mine of this.streams.values()) {
      for (const s of mine.values()) {
        if (s.unacked > 0) {
          this.sendAck(s);
          work++;
        }
      }
    }
    for (const part of this.parts.all()) work += this.settle(part);
    return work;
  }

  /** The streams currently feeding parts, for status and tests. */
  streamCount(): number {
    let n = 0;
    for (const m of this.streams.values()) n += m.size;
    return n;
  }

  close(): void {
    for (const mine of this.streams.values()) for (const s of mine.values()) this.endStream(s);
    this.streams.clear();
  }

  private sendAck(s: InboundStream): void {
    s.unacked = 0;
    this.proxy.ack(s.peer.connection, s.part.recordingId, s.part.next, s.part.lastUtcNs);
  }

  private endStream(s: InboundStream): void {
    this.streams.get(s.peer)?.delete(key(s.part.recordingId, s.part.base));
    if (s.unacked > 0) this.sendAck(s);
    if (s.part.owner === 'mirror' && !this.hasStream(s.part)) s.part.owner = undefined;
  }

  private dropStreamsOf(part: PartFile, except: InboundPeer | undefined): void {
    const k = key(part.recordingId, part.base);
    for (const [peer, mine] of this.streams) if (peer !== except) mine.delete(k);
  }

  private hasStream(part: PartFile): boolean {
    const k = key(part.recordingId, part.base);
    for (const mine of this.streams.values()) if (mine.get(k)?.part === part) return true;
    return false;
  }

  /** Installs a part the view shows sealed and complete here; removes one nobody needs. Fetched parts are the fetcher's. */
  private settle(part: PartFile): number {
    if (part.owner === 'fetch') return 0;
    const { recordingId, base } = part;
    const r = this.ctx.view.recording(recordingId)?.value;
    const s = this.ctx.view.segment(recordingId, base)?.value;
    if (!r || !s || s.state !== 'sealed') return 0;
    const self = this.ctx.self;
    const disk = this.ctx.disk();
    const copied = s.replicas.some((e) => e.node === self && e.disk === disk);
    const abandoned = !s.placement.includes(self) && !this.hasStream(part) && part.end < s.end;
    if (s.end <= part.first || copied || abandoned) {
      this.discard(part);
      return 1;
    }
    if (part.end < s.end) return 0; // more frames to come (this stream, or a fetch)
    const endsHere = (r.state === 'stopped' || r.state === 'failed') && r.stopPosition <= s.end;
    // a segment the recording goes on past must be installed with the padding that rolls it (readers go through it)
    if (!endsHere && !(part.complete && part.end === s.end)) return 0;
    const now = this.ctx.nowMs();
    if (now < (this.retryAtMs.get(part) ?? 0)) return 0;
    if (part.end > s.end) {
      // the metadata sealed the segment shorter than this copy (a fence): the sealed end decides
      if (!part.cutAt(s.end)) return this.corrupt(part, new VcrError(ErrorCode.DIGEST_MISMATCH, `no frame of the part ends at the sealed end ${s.end}`));
      this.ctx.log.warn({ recordingId, base, end: s.end }, 'part holds frames past the sealed end; cut there');
    }
    try {
      part.sync();
      this.deps.ensureDescriptor(recordingId);
      const summary = this.ctx.archive.installSegment(recordingId, base, part.path, s.digest, { checked: part.checkedSummary(), index: part.checkedIndex() });
      this.forget(part);
      this.installs++;
      this.deps.onCopied(recordingId, base, summary);
    } catch (err) {
      const code = (err as VcrError).code;
      if (code === ErrorCode.DIGEST_MISMATCH || code === ErrorCode.CORRUPT_SEGMENT) return this.corrupt(part, err as VcrError);
      this.ctx.log.error({ recordingId, base, error: (err as Error).message }, 'cannot install a mirrored segment; will try again');
      this.retryAtMs.set(part, now + this.installRetryMs);
    }
    return 1;
  }

  private corrupt(part: PartFile, error: VcrError): number {
    this.ctx.log.warn({ recordingId: part.recordingId, base: part.base, error: error.message }, 'mirrored copy does not verify; discarded');
    this.discard(part);
    this.deps.onCorrupt(part.recordingId, part.base, error);
    return 1;
  }

  private discard(part: PartFile): void {
    this.dropStreamsOf(part, undefined);
    this.retryAtMs.delete(part);
    this.parts.remove(part);
  }

  private forget(part: PartFile): void {
    this.dropStreamsOf(part, undefined);
    this.retryAtMs.delete(part);
    this.parts.release(part);
  }

  /** Parts an earlier run left: resumed when the view still needs them, else removed. */
  private resumeLeftParts(): number {
    let work = 0;
    for (const { recordingId, base } of this.parts.filesNotOpen()) {
      const r = this.ctx.view.recording(recordingId)?.value;
      const s = this.ctx.view.segment(recordingId, base)?.value;
      const beyondStop = r !== undefined && r.state !== 'recording' && r.state !== 'fencing' && base >= r.stopPosition && base > r.startPosition;
      const sealedEmpty = s !== undefined && s.state === 'sealed' && s.end <= Math.max(base, r?.startPosition ?? 0);
      const copied = s?.replicas.some((e) => e.node === this.ctx.self && e.disk === this.ctx.disk()) ?? false;
      work++;
      if (!r || beyondStop || sealedEmpty || copied) {
        this.parts.removeFile(recordingId, base);
        continue;
      }
      try {
        this.parts.open(recordingId, base, r.segmentLength, r.startPosition);
      } catch (err) {
        this.ctx.log.warn({ recordingId, base, error: (err as Error).message }, 'cannot resume a part file; removed');
        this.parts.removeFile(recordingId, base);
      }
    }
    return work;
  }
}

/**
 * Mirror frames of R are taken from `hello` while the view shows R recorded by that
 * incarnation, or stopped by it (then only below the stop position).
 */
function accepts(ctx: ReplicationContext, r: ClusterRecording, recordingId: number, hello: PeerHello, upTo: number): boolean {
  if (recordedBy(ctx.view, recordingId, hello.node, hello.incarnation)) return true;
  const byOwner = r.owner.node === hello.node && r.owner.lease === hello.incarnation;
  return byOwner && r.state === 'stopped' && (r.stoppedBy === undefined || r.stoppedBy === hello.node) && upTo <= r.stopPosition;
}

function key(recordingId: number, base: number): string {
  return `${recordingId}/${base}`;
}
