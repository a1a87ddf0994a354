/**
 * The asking side of the small request/answer exchanges between archivers: fence queries (the
 * coordinator's FenceRpc, docs/REPLICATION.md §7), the position of a UTC inside a segment held
 * elsewhere and a recorder's live position (reads from any node, §9), and Suspect (a copy a
 * reader found damaged). A request waits (up to its timeout) for a connection to the node, is
 * then sent, and settles with the answer; it is rejected with TIMEOUT when no answer comes in
 * time (a fence participant waits for its view before answering, so the coordinator's timeout
 * is long), and with REPLICA_UNAVAILABLE when the connection drops with the request in flight.
 * Everything is driven from doWork on the injected clock.
 */
import { FetchCode } from '../../../codecs/generated/replication/index.js';
import type { Connection } from '../../transport/index.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import type { FenceReport, FenceRpc } from '../repair-coordinator.js';
import type { ReplicationContext } from './replication-context.js';
import type { ReplicationProxy } from './replication-proxy.js';
import type { AnswerSink, FenceReplyMessage, RequestRegistry } from './request-registry.js';

export interface PeerQueryOptions {
  /** default time to wait for an answer to a fence query, 10,000 ms */
  fenceTimeoutMs?: number;
  /** default time to wait for the answer to a position query, 5,000 ms */
  queryTimeoutMs?: number;
}

interface Pending {
  node: string;
  requestId: number;
  send: (c: Connection, requestId: number) => boolean;
  sent: boolean;
  deadlineMs: number;
  sink: AnswerSink;
  reject(err: VcrError): void;
}

export class PeerQueries implements FenceRpc {
  private pending: Pending[] = [];
  private readonly fenceTimeoutMs: number;
  private readonly queryTimeoutMs: number;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly proxy: ReplicationProxy,
    private readonly requests: RequestRegistry,
    options: PeerQueryOptions = {},
  ) {
    this.fenceTimeoutMs = options.fenceTimeoutMs ?? 10_000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 5_000;
  }

  /** FenceRpc: what `node` holds of R's open segments, once its view shows R fencing at `revision`. */
  query(node: string, recordingId: number, revision: number, timeoutMs = this.fenceTimeoutMs): Promise<FenceReport> {
    return new Promise((resolve, reject) => {
      this.add(node, timeoutMs, (c, id) => this.proxy.fenceQuery(c, id, recordingId, revision), reject, {
        onFenceReply: (m: FenceReplyMessage) => {
          if (m.code === FetchCode.OK) resolve({ node, segments: m.segments });
          else reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `fence query of recording ${recordingId} on ${node}: ${m.message || 'refused'}`));
        },
      });
    });
  }

  /** Position of the first event at or after `utcNs` in `node`'s copy of segment (R, base). */
  findPosition(node: string, recordingId: number, base: number, utcNs: bigint, timeoutMs = this.queryTimeoutMs): Promise<number> {
    return new Promise((resolve, reject) => {
      this.add(node, timeoutMs, (c, id) => this.proxy.findPositionRequest(c, id, recordingId, base, utcNs), reject, {
        onFindPositionReply: (code: FetchCode, position: number) => {
          if (code === FetchCode.OK) resolve(position);
          else reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `${node} cannot find a position in segment ${base} of recording ${recordingId}`));
        },
      });
    });
  }

  /** The recorder's live position of R (`live` false: R is not being recorded there; position is its stored end). */
  livePosition(node: string, recordingId: number, timeoutMs = this.queryTimeoutMs): Promise<{ position: number; live: boolean }> {
    return new Promise((resolve, reject) => {
      this.add(node, timeoutMs, (c, id) => this.proxy.livePositionRequest(c, id, recordingId), reject, {
        onLivePositionReply: (code: FetchCode, position: number, live: boolean) => {
          if (code === FetchCode.OK) resolve({ position, live });
          else reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `${node} has no position of recording ${recordingId}`));
        },
      });
    });
  }

  /** Tells `node` its copy of (R, base) served a damaged frame; true when sent now. */
  suspect(node: string, recordingId: number, base: number): boolean {
    const c = this.ctx.network.connection(node);
    return c !== undefined && this.proxy.suspect(c, recordingId, base);
  }

  doWork(): number {
    if (this.pending.length === 0) return 0;
    const now = this.ctx.nowMs();
    let work = 0;
    const still: Pending[] = [];
    for (const p of this.pending) {
      if (p.sent && this.requests.get(p.requestId, p.node) === undefined) {
        work++; // answered or lost
        continue;
      }
      if (now >= p.deadlineMs) {
        this.requests.remove(p.requestId);
        p.reject(new VcrError(ErrorCode.TIMEOUT, `no answer from ${p.node} within the timeout`));
        work++;
        continue;
      }
      if (!p.sent) {
        const c = this.ctx.network.connection(p.node);
        if (c && p.send(c, p.requestId)) {
          p.sent = true;
          this.requests.add(p.requestId, p.node, p.sink);
          work++;
        }
      }
      still.push(p);
    }
    this.pending = still;
    return work;
  }

  /** Requests not settled yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  close(): void {
    for (const p of this.pending) {
      this.requests.remove(p.requestId);
      p.reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, 'the replication services are closing'));
    }
    this.pending = [];
  }

  private add(node: string, timeoutMs: number, send: Pending['send'], reject: (err: VcrError) => void, answers: Omit<AnswerSink, 'onLost'>): void {
    const requestId = this.requests.newId();
    const settle = (): void => this.requests.remove(requestId);
    const sink: AnswerSink = {
      ...wrap(answers, settle),
      onLost: (err) => reject(err),
    };
    this.pending.push({ node, requestId, send, sent: false, deadlineMs: this.ctx.nowMs() + timeoutMs, sink, reject });
  }
}

/** Each answer method also removes the request from the registry before it settles the promise. */
function wrap(answers: Omit<AnswerSink, 'onLost'>, settle: () => void): Omit<AnswerSink, 'onLost'> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(answers)) {
    out[name] = (...args: unknown[]) => {
      settle();
      (f as (...a: unknown[]) => void)(...args);
    };
  }
  return out as Omit<AnswerSink, 'onLost'>;
}
