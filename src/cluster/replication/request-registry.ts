/**
 * Requests this node sent to peers and is waiting on, by request id (one id space for fetch
 * windows, fence queries and position queries). Answers arrive on this node's own connection
 * to the peer; an answer with an unknown id, or from another node than the one asked, is
 * ignored (an abandoned window still streaming, say). When the connection to a node goes
 * down, every request to it is told it is lost: nothing more will come for it.
 */
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { FetchCode } from '../../../codecs/generated/replication/index.js';
import type { FenceReport } from '../repair-coordinator.js';

export interface FenceReplyMessage {
  recordingId: number;
  code: FetchCode;
  segments: FenceReport['segments'];
  message: string;
}

/** What a pending request does with its answers; methods it does not expect may be left out. */
export interface AnswerSink {
  onFrames?(position: number, bytes: Buffer, offset: number, length: number): void;
  onDeletionLogPart?(bytes: Uint8Array): void;
  onFetchEnd?(code: FetchCode, position: number, deletionLog: Uint8Array, message: string): void;
  onFenceReply?(reply: FenceReplyMessage): void;
  onFindPositionReply?(code: FetchCode, position: number): void;
  onLivePositionReply?(code: FetchCode, position: number, live: boolean): void;
  /** the connection to the node went down: no answer will come */
  onLost(error: VcrError): void;
}

export class RequestRegistry {
  private nextId = 1;
  private readonly pending = new Map<number, { node: string; sink: AnswerSink }>();

  /** A fresh request id (never 0: a Frames message with id 0 belongs to a mirror stream). */
  newId(): number {
    return this.nextId++;
  }

  add(requestId: number, node: string, sink: AnswerSink): void {
    this.pending.set(requestId, { node, sink });
  }

  /** The sink of `requestId` if it was sent to `node`. */
  get(requestId: number, node: string): AnswerSink | undefined {
    const p = this.pending.get(requestId);
    return p && p.node === node ? p.sink : undefined;
  }

  remove(requestId: number): void {
    this.pending.delete(requestId);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Every request to `node` is lost (its connection went down). */
  lost(node: string): void {
    for (const [id, p] of [...this.pending]) {
      if (p.node !== node) continue;
      this.pending.delete(id);
      p.sink.onLost(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `connection to ${node} lost`));
    }
  }
}
