/**
 * The holder side of fetches and of the small queries peers ask (docs/REPLICATION.md §5.5, §9).
 *
 * - FetchRequest: whole frames of this node's copy of (R, base), from `position` while they
 *   start below `toPosition` (a sealed end: the PADDING frame starting there comes too, it
 *   rolls the segment; 0 = the live end now), at most ~1 MiB per Frames message and only
 *   while the connection is writable (the rest on the next doWork); then, when asked, the
 *   segment's deletion log (DeletionLogPart pieces, the last one in FetchEnd), and FetchEnd
 *   {OK, position reached}. A tombstone here (every frame deleted) has no frames: the answer is
 *   FetchEnd {OK, the segment's end} with no frame before it (and the log when asked), which
 *   the fetcher takes for a tombstone (range-fetch.ts). RESTART when `position` is not a frame start in this copy (a
 *   deletion merged frames since the fetcher's copy began); UNAVAILABLE when this node has no
 *   verified copy to serve (`canServe`) or storage says the segment is not here.
 * - FindPositionRequest: the first frame at or after a UTC inside one segment.
 * - LivePositionRequest: this node's live position of a recording it records.
 * - Suspect: a reader found a frame of this node's copy failing its CRC: the copy is verified
 *   (one per doWork) and `onCorrupt` is told when it does not match its record.
 * - FenceQuery: handed to the FenceServer.
 */
import { FetchCode } from '../../../codecs/generated/replication/index.js';
import { EventFrameHeaderDecoder } from '../../../codecs/generated/storage/index.js';
import { FrameStatus, checkFrame } from '../../storage/frame.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame } from '../../storage/layout.js';
import type { Connection } from '../../transport/index.js';
import { ErrorCode, VcrError, isVcrError } from '../../util/errors.js';
import type { InboundPeer } from '../peer-network.js';
import { FRAMES_BATCH_BYTES } from '../peer-network.js';
import type { FenceServer } from './fence-server.js';
import { cutBatch } from './frame-batch.js';
import type { FetchRequestMessage, ServeRequestHandler } from './replication-adapter.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';

export interface FetchServerDeps {
  /** this node holds a copy of (R, base) it may serve: a verified copy, or the recorder's open segment */
  canServe(recordingId: number, base: number): boolean;
  /** a copy this node served does not verify */
  onCorrupt(recordingId: number, base: number, error: VcrError): void;
}

export interface FetchServerOptions {
  batchBytes?: number;
  /** bytes sent per doWork over all fetches (bounds one duty cycle's work), default 8 MiB */
  maxBytesPerWork?: number;
}

const NOT_HERE: readonly number[] = [ErrorCode.SEGMENT_ELSEWHERE, ErrorCode.SEGMENT_MISSING, ErrorCode.SEGMENT_TRUNCATED, ErrorCode.UNKNOWN_RECORDING];
const LOG_PART_BYTES = 1024 * 1024;
const frameHeader = new EventFrameHeaderDecoder();

interface ServeSession {
  peer: InboundPeer;
  req: FetchRequestMessage;
  segmentEnd: number;
  position: number;
  log: Buffer | undefined;
  logOffset: number;
  sendingLog: boolean;
  done: boolean;
}

export class FetchServer implements ServeRequestHandler {
  private sessions: ServeSession[] = [];
  private readonly suspects = new Map<string, { recordingId: number; base: number }>();
  private readonly batchBytes: number;
  private readonly maxBytesPerWork: number;
  bytesServed = 0;
  fetchesServed = 0;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly deps: FetchServerDeps,
    private readonly fence: FenceServer,
    options: FetchServerOptions = {},
  ) {
    this.batchBytes = options.batchBytes ?? FRAMES_BATCH_BYTES;
    this.maxBytesPerWork = options.maxBytesPerWork ?? 8 * 1024 * 1024;
  }

  onFetchRequest(peer: InboundPeer, req: FetchRequestMessage): void {
    const c = peer.connection;
    const { recordingId, base, position } = req;
    if (!this.deps.canServe(recordingId, base)) {
      this.proxy.fetchEnd(c, req.requestId, FetchCode.UNAVAILABLE, position, undefined, `no copy of segment ${base} of recording ${recordingId} here`);
      return;
    }
    let segLen: number;
    try {
      segLen = this.ctx.archive.describe(recordingId).segmentLength;
    } catch (err) {
      this.proxy.fetchEnd(c, req.requestId, FetchCode.UNAVAILABLE, position, undefined, (err as Error).message);
      return;
    }
    if (!Number.isSafeInteger(base) || base < 0 || base % segLen !== 0 || !Number.isSafeInteger(position) || position < base || position > base + segLen || req.toPosition < 0) {
      this.proxy.fetchEnd(c, req.requestId, FetchCode.ERROR, position, undefined, `fetch of ${base}/${position}..${req.toPosition}: not a segment of recording ${recordingId}`);
      return;
    }
    this.sessions.push({ peer, req, segmentEnd: base + segLen, position, log: undefined, logOffset: 0, sendingLog: false, done: false });
  }

  onFindPosition(peer: InboundPeer, requestId: number, recordingId: number, base: number, utcNs: bigint): void {
    if (!this.deps.canServe(recordingId, base)) {
      this.proxy.findPositionReply(peer.connection, requestId, FetchCode.UNAVAILABLE, 0);
      return;
    }
    try {
      this.proxy.findPositionReply(peer.connection, requestId, FetchCode.OK, this.ctx.archive.findPositionInSegment(recordingId, base, utcNs));
    } catch (err) {
      this.proxy.findPositionReply(peer.connection, requestId, notHere(err) ? FetchCode.UNAVAILABLE : FetchCode.ERROR, 0);
    }
  }

  onLivePosition(peer: InboundPeer, requestId: number, recordingId: number): void {
    try {
      const open = this.ctx.archive.openSegmentInfo(recordingId);
      if (open) this.proxy.livePositionReply(peer.connection, requestId, FetchCode.OK, open.position, true);
      else this.proxy.livePositionReply(peer.connection, requestId, FetchCode.OK, this.ctx.archive.describe(recordingId).stopPosition, false);
    } catch (err) {
      this.proxy.livePositionReply(peer.connection, requestId, notHere(err) ? FetchCode.UNAVAILABLE : FetchCode.ERROR, 0, false);
    }
  }

  onSuspect(_peer: InboundPeer, recordingId: number, base: number): void {
    if (this.suspects.size < 1024) this.suspects.set(`${recordingId}/${base}`, { recordingId, base });
  }

  onFenceQuery(peer: InboundPeer, requestId: number, recordingId: number, revision: number): void {
    this.fence.onFenceQuery(peer, requestId, recordingId, revision);
  }

  onInboundClosed(peer: InboundPeer): void {
    this.sessions = this.sessions.filter((s) => s.peer !== peer);
    this.fence.onInboundClosed(peer);
  }

  doWork(): number {
    let work = 0;
    let budget = this.maxBytesPerWork;
    for (const s of this.sessions) {
      if (budget <= 0) break;
      const before = this.bytesServed;
      work += this.step(s, budget);
      budget -= this.bytesServed - before;
    }
    if (work > 0) this.sessions = this.sessions.filter((s) => !s.done);
    work += this.verifyOneSuspect();
    return work;
  }

  /** Fetches being served, for status and tests. */
  get activeSessions(): number {
    return this.sessions.length;
  }

  close(): void {
    this.sessions = [];
    this.suspects.clear();
  }

  /** Sends frames of `s` while the connection is writable, up to about `budget` bytes (one batch past it at most). */
  private step(s: ServeSession, budget: number): number {
    const c = s.peer.connection;
    if (!c.isOpen) {
      s.done = true;
      return 1;
    }
    if (s.sendingLog) return this.sendLog(s, c);
    const { requestId, recordingId, toPosition } = s.req;
    let work = 0;
    // every step asks storage first whether the position is a frame start here (a deletion since
    // the last step may have merged frames: RESTART), for one frame (a copy of that frame only);
    // the step's batches are then cut straight from the segment's mapping, with no copy before
    // the one into the socket's buffer
    let mapped: Mapped | undefined;
    if (c.writable && toPosition > 0 && s.position < s.segmentEnd && s.position <= toPosition) {
      try {
        if (this.ctx.archive.readRawFrames(recordingId, s.position, 1).bytes.length > 0) mapped = this.mapping(s);
      } catch (err) {
        return this.refuse(s, c, err);
      }
    }
    const stopAt = this.bytesServed + budget;
    while (c.writable && this.bytesServed < stopAt) {
      if (s.position >= s.segmentEnd || (toPosition > 0 && s.position > toPosition)) return work + this.finish(s, c);
      let bytes: Buffer;
      let from = 0;
      let length: number;
      let nextPosition: number;
      const walked = mapped ? walkFrames(mapped, s.position, this.batchBytes) : undefined;
      if (mapped && walked && walked.length > 0) {
        bytes = mapped.view;
        from = s.position - s.req.base;
        ({ length, nextPosition } = walked);
      } else {
        try {
          ({ bytes, nextPosition } = this.ctx.archive.readRawFrames(recordingId, s.position, this.batchBytes));
        } catch (err) {
          return work + this.refuse(s, c, err);
        }
        length = bytes.length;
        mapped = mapped ? undefined : this.mapping(s); // storage had the last word: no mapping for the rest of this step
      }
      if (length === 0) {
        if (nextPosition > s.position && nextPosition >= s.segmentEnd) s.position = s.segmentEnd; // every frame deleted (tombstone)
        return work + this.finish(s, c);
      }
      const cut = cutBatch(bytes, from, length, s.position, s.segmentEnd, toPosition > 0 ? toPosition : Number.MAX_SAFE_INTEGER);
      if (cut.bytes === 0) return work + this.finish(s, c);
      if (!this.proxy.frames(c, requestId, recordingId, s.position, bytes, from, cut.bytes)) break;
      s.position = cut.bytes === length ? Math.max(cut.next, nextPosition) : cut.next;
      this.bytesServed += cut.bytes;
      work++;
    }
    return work;
  }

  /** Storage could not give frames at the session's position: RESTART (not a frame start here), UNAVAILABLE or ERROR. */
  private refuse(s: ServeSession, c: Connection, err: unknown): number {
    const restart = isVcrError(err) && err.code === ErrorCode.INVALID_POSITION;
    const code = restart ? FetchCode.RESTART : notHere(err) ? FetchCode.UNAVAILABLE : FetchCode.ERROR;
    this.proxy.fetchEnd(c, s.req.requestId, code, s.position, undefined, (err as Error).message);
    s.done = true;
    return 1;
  }

  /**
   * The mapping of the session's segment and how far its frames may be read from it: the
   * writer's position in the recorder's live segment, else the segment's end. Only for ranges
   * with an end (a live range, toPosition 0, always asks storage for the live end).
   */
  private mapping(s: ServeSession): Mapped | undefined {
    if (s.req.toPosition <= 0) return undefined;
    const { recordingId, base } = s.req;
    try {
      const view = this.ctx.archive.segmentSource(recordingId).get(base);
      if (!Buffer.isBuffer(view)) return undefined;
      const open = this.ctx.archive.openSegmentInfo(recordingId);
      return { view, base, segmentLength: s.segmentEnd - base, limit: open && open.base === base ? open.position : s.segmentEnd };
    } catch {
      return undefined;
    }
  }

  private finish(s: ServeSession, c: Connection): number {
    if (s.req.withDeletionLog) {
      try {
        s.log = this.ctx.archive.deletionLogBytes(s.req.recordingId, s.req.base);
      } catch (err) {
        this.proxy.fetchEnd(c, s.req.requestId, notHere(err) ? FetchCode.UNAVAILABLE : FetchCode.ERROR, s.position, undefined, (err as Error).message);
        s.done = true;
        return 1;
      }
      s.sendingLog = true;
      return this.sendLog(s, c);
    }
    this.end(s, c, undefined);
    return 1;
  }

  /** The deletion log in pieces while writable; the last piece rides in FetchEnd. */
  private sendLog(s: ServeSession, c: Connection): number {
    const log = s.log;
    let work = 0;
    while (log && log.length - s.logOffset > LOG_PART_BYTES) {
      if (!this.proxy.deletionLogPart(c, s.req.requestId, log.subarray(s.logOffset, s.logOffset + LOG_PART_BYTES))) return work;
      s.logOffset += LOG_PART_BYTES;
      work++;
    }
    this.end(s, c, log?.subarray(s.logOffset));
    return work + 1;
  }

  private end(s: ServeSession, c: Connection, log: Uint8Array | undefined): void {
    this.proxy.fetchEnd(c, s.req.requestId, FetchCode.OK, s.position, log);
    this.fetchesServed++;
    s.done = true;
  }

  /** Verifies one suspected copy against its record; a mismatch or a damaged frame is reported. */
  private verifyOneSuspect(): number {
    const next = this.suspects.entries().next();
    if (next.done) return 0;
    const [key, { recordingId, base }] = next.value;
    this.suspects.delete(key);
    if (!this.deps.canServe(recordingId, base)) return 1;
    const record = this.ctx.view.segment(recordingId, base)?.value;
    try {
      const summary = this.ctx.archive.verifySegment(recordingId, base);
      if (record && record.state === 'sealed' && summary.digest !== record.digest) {
        this.report(recordingId, base, new VcrError(ErrorCode.DIGEST_MISMATCH, `segment ${base} of recording ${recordingId}: digest ${summary.digest}, record says ${record.digest}`));
      }
    } catch (err) {
      if (isVcrError(err) && (err.code === ErrorCode.CORRUPT_SEGMENT || err.code === ErrorCode.DIGEST_MISMATCH)) this.report(recordingId, base, err);
    }
    return 1;
  }

  private report(recordingId: number, base: number, error: VcrError): void {
    this.ctx.log.warn({ recordingId, base, error: error.message }, 'a suspected copy does not verify');
    this.deps.onCorrupt(recordingId, base, error);
  }
}

interface Mapped {
  view: Buffer;
  base: number;
  segmentLength: number;
  /** frames starting at or past this position are not read from the mapping */
  limit: number;
}

/**
 * Whole frames of a mapped segment from `position`, up to `maxBytes` (at least one frame), as
 * `Archive.readRawFrames` cuts them (a PADDING frame ends the segment), without copying:
 * `length` bytes from `position - base` of the view. Length 0 when the first frame is not a
 * good one to send from here (not written, damaged, past the limit): storage then decides.
 */
function walkFrames(m: Mapped, position: number, maxBytes: number): { length: number; nextPosition: number } {
  const from = position - m.base;
  const limit = m.limit - m.base;
  let off = from;
  let segmentDone = false;
  while (off < limit) {
    const st = checkFrame(m.view, off, m.segmentLength, false);
    if (st === FrameStatus.END_OF_SEGMENT) {
      segmentDone = true;
      break;
    }
    if (st !== FrameStatus.OK) break;
    const type = frameHeader.wrap(m.view, off).frameType();
    const size = type === FrameType.PADDING ? m.segmentLength - off : alignFrame(frameHeader.frameLength());
    if (off > from && off - from + size > maxBytes) break;
    off += size;
    if (type === FrameType.PADDING) {
      segmentDone = true;
      break;
    }
  }
  if (m.segmentLength - off < FRAME_HEADER_LENGTH) segmentDone = true;
  return { length: off - from, nextPosition: segmentDone ? m.base + m.segmentLength : m.base + off };
}

function notHere(err: unknown): boolean {
  return isVcrError(err) && NOT_HERE.includes(err.code);
}
