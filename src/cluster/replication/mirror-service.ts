/**
 * The recorder side of mirroring (docs/REPLICATION.md §5.2): for each open segment of each
 * recording this incarnation records, one MirrorStream per placement target other than this
 * node. A stream says MirrorStart, waits for the target's MirrorResume (its local end, or a
 * refusal), then sends whole frames read from this node's own segment files with
 * `readRawFrames`, at most ~1 MiB per Frames message and only while the connection is
 * writable, and takes the target's Acks.
 *
 * The append path is never touched: a slow or absent target only makes its stream read further
 * behind in the files (lag), it never holds the recorder. After the recorder rolls to the next
 * segment, the stream of the previous one goes on until the target acked the segment's end,
 * then ends; it ends sooner when it is refused, when its target has been unreachable for
 * `giveUpMs`, or when it meets a frame a deletion rewrote: a sealed segment a target still
 * lacks is then the replica manager's to fetch (§5.5).
 */
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import type { Connection } from '../../transport/index.js';
import { FRAMES_BATCH_BYTES } from '../peer-network.js';
import { DELETED_FRAMES, cutBatch } from './frame-batch.js';
import type { MirrorAnswerHandler } from './replication-adapter.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';

/** A segment the recorder is writing now (from the live writers: etcd may be down). */
export interface OpenSegment {
  recordingId: number;
  base: number;
  /** the writer's position */
  position: number;
  /** UTC of the last event appended, when the caller has it (else the live descriptor's) */
  utcNs?: bigint;
}

export interface MirrorDeps {
  localOpenSegments(): OpenSegment[];
  /** the placement of the segment: its record's, or the one the recorder computed while etcd is down */
  placementOf(recordingId: number, base: number): string[] | undefined;
}

export interface MirrorOptions {
  /** delay before a refused stream of an open segment asks again, default 250 ms */
  retryMs?: number;
  /** a MirrorStart unanswered this long is sent again, default 5,000 ms */
  answerTimeoutMs?: number;
  /** a stream of a segment no longer open ends after its target was unreachable this long, default 5,000 ms */
  giveUpMs?: number;
  /** bytes of frames per Frames message, default 1 MiB */
  batchBytes?: number;
  /** bytes sent per doWork over all streams, default 8 MiB (keeps the duty cycle short) */
  maxBytesPerWork?: number;
}

export interface MirrorLag {
  node: string;
  recordingId: number;
  /** the oldest segment the target has not fully acked */
  base: number;
  /** recorder position - acked position */
  bytes: number;
  /** UTC of the last event recorded - UTC of the last event acked */
  ms: number;
  connected: boolean;
}

export const StreamState = {
  IDLE: 'IDLE',
  AWAIT_RESUME: 'AWAIT_RESUME',
  STREAMING: 'STREAMING',
  REFUSED: 'REFUSED',
  DONE: 'DONE',
} as const;
export type StreamState = (typeof StreamState)[keyof typeof StreamState];

class MirrorStream {
  state: StreamState = StreamState.IDLE;
  conn: Connection | undefined;
  sent: number;
  acked: number;
  /** UTC the target reported with its last ack (-1n: none since the last resume) */
  ackedUtcNs = -1n;
  /** where the segment's frames end here, once the segment is no longer written */
  finalEnd: number | undefined;
  live = true;
  askedAtMs = 0;
  retryAtMs = 0;
  downSinceMs: number | undefined;

  constructor(
    readonly node: string,
    readonly recordingId: number,
    readonly base: number,
    readonly segmentLength: number,
    readonly first: number,
  ) {
    this.sent = first;
    this.acked = first;
  }

  get segmentEnd(): number {
    return this.base + this.segmentLength;
  }
}

const frameHeader = new EventFrameHeaderDecoder();

export class MirrorService implements MirrorAnswerHandler {
  private readonly streams = new Map<string, MirrorStream>();
  private open = new Map<number, OpenSegment>();
  private readonly retryMs: number;
  private readonly answerTimeoutMs: number;
  private readonly giveUpMs: number;
  private readonly batchBytes: number;
  private readonly maxBytesPerWork: number;
  bytesSent = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly deps: MirrorDeps,
    options: MirrorOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 250;
    this.answerTimeoutMs = options.answerTimeoutMs ?? 5000;
    this.giveUpMs = options.giveUpMs ?? 5000;
    this.batchBytes = options.batchBytes ?? FRAMES_BATCH_BYTES;
    this.maxBytesPerWork = options.maxBytesPerWork ?? 8 * 1024 * 1024;
  }

  doWork(): number {
    const now = this.ctx.nowMs();
    let work = this.reconcile();
    let budget = this.maxBytesPerWork;
    for (const [key, s] of this.streams) {
      const before = this.bytesSent;
      work += this.step(s, now, budget);
      budget -= this.bytesSent - before;
      if (s.state === StreamState.DONE) {
        this.streams.delete(key);
        work++;
      }
    }
    return work;
  }

  /** Per target and recording: how far the target is behind (its oldest stream not done). */
  lag(): MirrorLag[] {
    const oldest = new Map<string, MirrorStream>();
    for (const s of this.streams.values()) {
      const k = `${s.node}/${s.recordingId}`;
      const o = oldest.get(k);
      if (!o || s.base < o.base) oldest.set(k, s);
    }
    const out: MirrorLag[] = [];
    for (const s of oldest.values()) {
      const { position, utcNs } = this.recorderEnd(s.recordingId);
      const bytes = Math.max(0, position - s.acked);
      let ms = 0;
      if (bytes > 0) {
        const ackedUtc = s.ackedUtcNs >= 0n ? s.ackedUtcNs : this.utcAt(s.recordingId, s.acked);
        if (ackedUtc !== undefined && utcNs > ackedUtc) ms = Number(utcNs - ackedUtc) / 1e6;
      }
      out.push({ node: s.node, recordingId: s.recordingId, base: s.base, bytes, ms, connected: s.conn !== undefined });
    }
    return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.recordingId - b.recordingId));
  }

  /** Every stream, for status and tests. */
  streamStates(): { node: string; recordingId: number; base: number; state: StreamState; sent: number; acked: number }[] {
    return [...this.streams.values()].map((s) => ({ node: s.node, recordingId: s.recordingId, base: s.base, state: s.state, sent: s.sent, acked: s.acked }));
  }

  onMirrorResume(node: string, recordingId: number, base: number, position: number, accept: boolean): void {
    const s = this.streams.get(key(node, recordingId, base));
    if (!s || s.state === StreamState.DONE) return;
    if (!accept) {
      s.state = StreamState.REFUSED;
      s.retryAtMs = this.ctx.nowMs() + this.retryMs;
      return;
    }
    if (!Number.isSafeInteger(position) || position < s.first || position > s.segmentEnd || position % 8 !== 0) {
      this.ctx.log.warn({ node, recordingId, base, position }, 'mirror target asked to resume outside the segment; stream refused');
      s.state = StreamState.REFUSED;
      s.retryAtMs = this.ctx.nowMs() + this.retryMs;
      return;
    }
    s.sent = position;
    s.acked = position;
    s.ackedUtcNs = -1n;
    s.state = StreamState.STREAMING;
  }

  onAck(node: string, recordingId: number, position: number, utcNs: bigint): void {
    for (const s of this.streams.values()) {
      if (s.node !== node || s.recordingId !== recordingId || position < s.base || position > s.segmentEnd) continue;
      if (position > s.acked) {
        s.acked = position;
        s.ackedUtcNs = utcNs;
      }
    }
  }

  close(): void {
    this.streams.clear();
  }

  /** Streams for every placement target of every open segment this incarnation records; others are marked not live. */
  private reconcile(): number {
    const view = this.ctx.view;
    const self = this.ctx.self;
    const incarnation = this.ctx.incarnation();
    const wanted = new Set<string>();
    this.open = new Map();
    let work = 0;
    for (const o of this.deps.localOpenSegments()) {
      this.open.set(o.recordingId, o);
      const r = view.recording(o.recordingId)?.value;
      if (!r || r.state !== 'recording' || r.owner.node !== self || r.owner.lease !== incarnation) continue;
      for (const target of this.deps.placementOf(o.recordingId, o.base) ?? []) {
        if (target === self) continue;
        const k = key(target, o.recordingId, o.base);
        wanted.add(k);
        if (!this.streams.has(k)) {
          this.streams.set(k, new MirrorStream(target, o.recordingId, o.base, r.segmentLength, Math.max(o.base, r.startPosition)));
          work++;
        }
      }
    }
    for (const [k, s] of this.streams) {
      s.live = wanted.has(k);
      if (s.live) continue;
      const r = view.recording(s.recordingId)?.value;
      const ours = r !== undefined && r.owner.node === self && r.owner.lease === incarnation;
      const stoppedByOwner = r?.state === 'stopped' && (r.stoppedBy === undefined || r.stoppedBy === self);
      // a fenced recording (or one taken over) gets no more frames; a placement that dropped the target ends its stream
      if (!ours || !(r!.state === 'recording' || stoppedByOwner) || !(this.deps.placementOf(s.recordingId, s.base) ?? [s.node]).includes(s.node)) {
        s.state = StreamState.DONE;
      }
    }
    return work;
  }

  private step(s: MirrorStream, now: number, budget: number): number {
    const conn = this.ctx.network.connection(s.node);
    if (conn !== s.conn) {
      s.conn = conn;
      if (s.state !== StreamState.DONE && s.state !== StreamState.REFUSED) s.state = StreamState.IDLE;
    }
    if (!conn) {
      s.downSinceMs ??= now;
      if (!s.live && now - s.downSinceMs > this.giveUpMs) s.state = StreamState.DONE;
      return 0;
    }
    s.downSinceMs = undefined;
    switch (s.state) {
      case StreamState.IDLE:
        if (!this.proxy.mirrorStart(conn, s.recordingId, s.base)) return 0;
        s.state = StreamState.AWAIT_RESUME;
        s.askedAtMs = now;
        return 1;
      case StreamState.AWAIT_RESUME:
        if (now - s.askedAtMs > this.answerTimeoutMs) s.state = StreamState.IDLE;
        return 0;
      case StreamState.REFUSED:
        if (!s.live) s.state = StreamState.DONE;
        else if (now >= s.retryAtMs) s.state = StreamState.IDLE;
        return 0;
      case StreamState.STREAMING:
        return this.pump(s, conn, budget);
      default:
        return 0;
    }
  }

  /** Sends frames from `sent` while the connection is writable; notes the segment's final end once it is no longer written. */
  private pump(s: MirrorStream, conn: Connection, budget: number): number {
    let work = 0;
    while (budget > 0 && s.finalEnd === undefined) {
      if (s.sent >= s.segmentEnd) {
        s.finalEnd = s.segmentEnd;
        break;
      }
      const o = s.live ? this.open.get(s.recordingId) : undefined;
      if (o && o.base === s.base && s.sent >= o.position) break; // caught up with the recorder
      if (!conn.writable) break;
      let bytes: Buffer;
      let nextPosition: number;
      try {
        ({ bytes, nextPosition } = this.ctx.archive.readRawFrames(s.recordingId, s.sent, this.batchBytes));
      } catch (err) {
        this.ctx.log.warn({ node: s.node, recordingId: s.recordingId, base: s.base, position: s.sent, error: (err as Error).message }, 'mirror stream cannot read its segment; it ends');
        s.state = StreamState.DONE;
        return work + 1;
      }
      if (bytes.length === 0) {
        if (nextPosition > s.sent) s.sent = nextPosition; // a segment whose frames were all deleted
        else if (!s.live) s.finalEnd = s.sent; // the recording ends here
        break;
      }
      const cut = cutBatch(bytes, 0, bytes.length, s.sent, s.segmentEnd, Number.MAX_SAFE_INTEGER, DELETED_FRAMES);
      if (cut.bytes === 0) {
        // a deletion rewrote the (sealed) segment: a copy with the deletion log is the fetch's job
        this.ctx.log.info({ node: s.node, recordingId: s.recordingId, base: s.base, position: s.sent }, 'mirror stream meets deleted frames; it ends');
        s.state = StreamState.DONE;
        return work + 1;
      }
      if (!this.proxy.frames(conn, 0, s.recordingId, s.sent, bytes, 0, cut.bytes)) break;
      // after a segment's last frame (fewer bytes left than a header) storage says where the next segment starts
      s.sent = cut.bytes === bytes.length ? Math.max(cut.next, nextPosition) : cut.next;
      this.bytesSent += cut.bytes;
      budget -= cut.bytes;
      work++;
    }
    if (s.finalEnd !== undefined && s.acked >= s.finalEnd) {
      s.state = StreamState.DONE;
      work++;
    }
    return work;
  }

  /** The recorder's position and last event UTC for a recording (the live writer's, else the stored end). */
  private recorderEnd(recordingId: number): { position: number; utcNs: bigint } {
    const o = this.open.get(recordingId);
    try {
      const d = this.ctx.archive.describe(recordingId);
      return { position: o?.position ?? d.stopPosition, utcNs: o?.utcNs ?? d.stopUtcNs };
    } catch {
      return { position: o?.position ?? 0, utcNs: o?.utcNs ?? 0n };
    }
  }

  /** UTC of the frame at `position` in the local copy (the oldest event a target lacks), if there is one. */
  private utcAt(recordingId: number, position: number): bigint | undefined {
    try {
      const { bytes } = this.ctx.archive.readRawFrames(recordingId, position, 1);
      return bytes.length >= 32 ? frameHeader.wrap(bytes, 0).utcNs() : undefined;
    } catch {
      return undefined;
    }
  }
}

function key(node: string, recordingId: number, base: number): string {
  return `${node}/${recordingId}/${base}`;
}
