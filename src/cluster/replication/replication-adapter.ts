/**
 * Inbound decoding of the replication messages: the PeerNetwork's handlers. Each message is
 * decoded here and handed, as plain values, to the service that owns it:
 *
 *   on a connection a peer initiated (requests, streams to serve):
 *     MirrorStart, Frames (mirror)                          -> mirror receiver
 *     FetchRequest, FindPositionRequest, LivePositionRequest,
 *     Suspect, FenceQuery                                   -> serving side
 *   on a connection this node initiated (answers):
 *     MirrorResume, Ack                                     -> mirror sender
 *     Frames, DeletionLogPart, FetchEnd, FenceReply,
 *     FindPositionReply, LivePositionReply                  -> the pending request (by id)
 *
 * Byte fields (frames, deletion-log bytes) are views into the connection's receive buffer,
 * valid only during the call (the transport's rule). A message that does not decode throws,
 * which the PeerNetwork reports and drops.
 */
import {
  AckDecoder,
  DeletionLogPartDecoder,
  FenceQueryDecoder,
  FenceReplyDecoder,
  FetchEndDecoder,
  FetchRequestDecoder,
  FindPositionReplyDecoder,
  FindPositionRequestDecoder,
  FramesDecoder,
  LivePositionReplyDecoder,
  LivePositionRequestDecoder,
  MessageHeaderDecoder,
  MirrorResumeDecoder,
  MirrorStartDecoder,
  SuspectDecoder,
  TEMPLATE_IDS,
  BooleanType,
} from '../../../codecs/generated/replication/index.js';
import type { InboundPeer, PeerHandlers } from '../peer-network.js';
import type { FenceReport } from '../repair-coordinator.js';
import type { RequestRegistry } from './request-registry.js';

export interface FetchRequestMessage {
  requestId: number;
  recordingId: number;
  base: number;
  position: number;
  toPosition: number;
  withDeletionLog: boolean;
}

/** The recorder side of mirror streams. */
export interface MirrorAnswerHandler {
  onMirrorResume(node: string, recordingId: number, base: number, position: number, accept: boolean): void;
  onAck(node: string, recordingId: number, position: number, utcNs: bigint): void;
}

/** The target side of mirror streams. */
export interface MirrorRequestHandler {
  onMirrorStart(peer: InboundPeer, recordingId: number, base: number): void;
  onMirrorFrames(peer: InboundPeer, recordingId: number, position: number, bytes: Buffer, offset: number, length: number): void;
  onInboundClosed(peer: InboundPeer): void;
}

/** The serving side: fetches, position queries, suspects, fence queries. */
export interface ServeRequestHandler {
  onFetchRequest(peer: InboundPeer, r: FetchRequestMessage): void;
  onFindPosition(peer: InboundPeer, requestId: number, recordingId: number, base: number, utcNs: bigint): void;
  onLivePosition(peer: InboundPeer, requestId: number, recordingId: number): void;
  onSuspect(peer: InboundPeer, recordingId: number, base: number): void;
  onFenceQuery(peer: InboundPeer, requestId: number, recordingId: number, revision: number): void;
  onInboundClosed(peer: InboundPeer): void;
}

export interface ConnectionListener {
  onConnected(node: string): void;
  onDisconnected(node: string): void;
}

const T = TEMPLATE_IDS;

export class ReplicationAdapter implements PeerHandlers {
  private readonly header = new MessageHeaderDecoder();
  private readonly mirrorStart = new MirrorStartDecoder();
  private readonly mirrorResume = new MirrorResumeDecoder();
  private readonly frames = new FramesDecoder();
  private readonly ack = new AckDecoder();
  private readonly fetchRequest = new FetchRequestDecoder();
  private readonly fetchEnd = new FetchEndDecoder();
  private readonly logPart = new DeletionLogPartDecoder();
  private readonly fenceQuery = new FenceQueryDecoder();
  private readonly fenceReply = new FenceReplyDecoder();
  private readonly suspect = new SuspectDecoder();
  private readonly findRequest = new FindPositionRequestDecoder();
  private readonly findReply = new FindPositionReplyDecoder();
  private readonly liveRequest = new LivePositionRequestDecoder();
  private readonly liveReply = new LivePositionReplyDecoder();
  /** messages of a template this side does not take */
  unexpected = 0;

  constructor(
    private readonly mirror: MirrorAnswerHandler,
    private readonly receiver: MirrorRequestHandler,
    private readonly server: ServeRequestHandler,
    private readonly requests: RequestRegistry,
    private readonly listeners: ConnectionListener[],
  ) {}

  onRequest(peer: InboundPeer, templateId: number, buf: Buffer, off: number): void {
    const h = this.header;
    switch (templateId) {
      case T.MirrorStart: {
        const d = this.mirrorStart.wrapAndApplyHeader(buf, off, h);
        this.receiver.onMirrorStart(peer, d.recordingId(), d.base());
        return;
      }
      case T.Frames: {
        const d = this.frames.wrapAndApplyHeader(buf, off, h);
        const recordingId = d.recordingId();
        const position = d.position();
        if (d.requestId() !== 0) return this.bad();
        const bytes = d.frames();
        this.receiver.onMirrorFrames(peer, recordingId, position, asBuffer(bytes), 0, bytes.length);
        return;
      }
      case T.FetchRequest: {
        const d = this.fetchRequest.wrapAndApplyHeader(buf, off, h);
        this.server.onFetchRequest(peer, {
          requestId: d.requestId(),
          recordingId: d.recordingId(),
          base: d.base(),
          position: d.position(),
          toPosition: d.toPosition(),
          withDeletionLog: d.withDeletionLog() === BooleanType.TRUE,
        });
        return;
      }
      case T.FindPositionRequest: {
        const d = this.findRequest.wrapAndApplyHeader(buf, off, h);
        this.server.onFindPosition(peer, d.requestId(), d.recordingId(), d.base(), d.utcNs());
        return;
      }
      case T.LivePositionRequest: {
        const d = this.liveRequest.wrapAndApplyHeader(buf, off, h);
        this.server.onLivePosition(peer, d.requestId(), d.recordingId());
        return;
      }
      case T.Suspect: {
        const d = this.suspect.wrapAndApplyHeader(buf, off, h);
        this.server.onSuspect(peer, d.recordingId(), d.base());
        return;
      }
      case T.FenceQuery: {
        const d = this.fenceQuery.wrapAndApplyHeader(buf, off, h);
        this.server.onFenceQuery(peer, d.requestId(), d.recordingId(), d.revision());
        return;
      }
      default:
        return this.bad();
    }
  }

  onAnswer(node: string, templateId: number, buf: Buffer, off: number): void {
    const h = this.header;
    switch (templateId) {
      case T.MirrorResume: {
        const d = this.mirrorResume.wrapAndApplyHeader(buf, off, h);
        this.mirror.onMirrorResume(node, d.recordingId(), d.base(), d.position(), d.accept() === BooleanType.TRUE);
        return;
      }
      case T.Ack: {
        const d = this.ack.wrapAndApplyHeader(buf, off, h);
        this.mirror.onAck(node, d.recordingId(), d.position(), d.utcNs());
        return;
      }
      case T.Frames: {
        const d = this.frames.wrapAndApplyHeader(buf, off, h);
        const sink = this.requests.get(d.requestId(), node);
        if (!sink?.onFrames) return;
        const position = d.position();
        const bytes = d.frames();
        sink.onFrames(position, asBuffer(bytes), 0, bytes.length);
        return;
      }
      case T.DeletionLogPart: {
        const d = this.logPart.wrapAndApplyHeader(buf, off, h);
        this.requests.get(d.requestId(), node)?.onDeletionLogPart?.(d.deletionLog());
        return;
      }
      case T.FetchEnd: {
        const d = this.fetchEnd.wrapAndApplyHeader(buf, off, h);
        const sink = this.requests.get(d.requestId(), node);
        if (!sink?.onFetchEnd) return;
        const code = d.code();
        const position = d.position();
        const log = d.deletionLog();
        sink.onFetchEnd(code, position, log, d.message());
        return;
      }
      case T.FenceReply: {
        const d = this.fenceReply.wrapAndApplyHeader(buf, off, h);
        const sink = this.requests.get(d.requestId(), node);
        if (!sink?.onFenceReply) return;
        const recordingId = d.recordingId();
        const code = d.code();
        const segments: FenceReport['segments'] = [];
        for (const g of d.segments()) {
          segments.push({
            base: g.base(),
            end: g.end(),
            frames: g.frames(),
            firstUtcNs: g.firstUtcNs(),
            lastUtcNs: g.lastUtcNs(),
            complete: g.complete() === BooleanType.TRUE,
            digest: g.digest(),
          });
        }
        sink.onFenceReply({ recordingId, code, segments, message: d.message() });
        return;
      }
      case T.FindPositionReply: {
        const d = this.findReply.wrapAndApplyHeader(buf, off, h);
        this.requests.get(d.requestId(), node)?.onFindPositionReply?.(d.code(), d.position());
        return;
      }
      case T.LivePositionReply: {
        const d = this.liveReply.wrapAndApplyHeader(buf, off, h);
        this.requests.get(d.requestId(), node)?.onLivePositionReply?.(d.code(), d.position(), d.live() === BooleanType.TRUE);
        return;
      }
      default:
        return this.bad();
    }
  }

  onConnected(node: string): void {
    for (const l of this.listeners) l.onConnected(node);
  }

  onDisconnected(node: string): void {
    this.requests.lost(node);
    for (const l of this.listeners) l.onDisconnected(node);
  }

  onInboundClosed(peer: InboundPeer): void {
    this.receiver.onInboundClosed(peer);
    this.server.onInboundClosed(peer);
  }

  private bad(): void {
    this.unexpected++;
  }
}

/** A Buffer view of decoded bytes (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
