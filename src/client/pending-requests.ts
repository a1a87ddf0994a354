/**
 * Correlation of requests with their answers, and the retry/timeout policy of PROTOCOL.md:
 * every request waits for exactly one final ControlResponse carrying its correlationId,
 * preceded by `dataCount` data messages. An attempt that gets no final answer in time, or a
 * final answer with fewer data messages than it announces (after a short grace for
 * reordered datagrams), is re-sent with the SAME bytes, hence the same correlationId, so
 * the archiver answers it from its per-session cache instead of executing it twice. After
 * the last attempt the request fails with TIMEOUT.
 *
 * Nothing here touches a socket or a timer: `send` and the clock are injected, and
 * `doWork(nowMs)` is stepped by the owner (the client's duty-cycle timer, or a test).
 */
import { ErrorCode, VcrError, type ErrorCodeValue } from '../util/errors.js';

export interface ControlResponse {
  controlSessionId: number;
  correlationId: bigint;
  relevantId: number;
  ok: boolean;
  errorCode: number;
  dataCount: number;
  errorMessage: string;
}

export interface RequestResult<T = unknown> {
  response: ControlResponse;
  /** data messages in arrival order, duplicates (same key) dropped */
  data: T[];
}

export interface PendingRequestsOptions {
  send: (bytes: Buffer) => void;
  /** per attempt; PROTOCOL.md default 1,000 ms */
  timeoutMs: number;
  /** attempts in all; default 5 */
  attempts: number;
  /** how long to wait for data messages that arrive after their final response */
  dataGraceMs?: number;
  /** names the peer in TIMEOUT messages, e.g. "archiver at 127.0.0.1:8010" */
  peerName: string;
}

interface Pending {
  correlationId: bigint;
  bytes: Buffer;
  what: string;
  attemptsMade: number;
  deadlineMs: number;
  data: Map<string, unknown>;
  final: ControlResponse | null;
  resolve: (r: RequestResult) => void;
  reject: (e: Error) => void;
}

export class PendingRequests {
  private readonly byCorrelation = new Map<bigint, Pending>();
  private readonly dataGraceMs: number;
  private retries = 0;

  constructor(private readonly opts: PendingRequestsOptions) {
    this.dataGraceMs = opts.dataGraceMs ?? Math.min(100, opts.timeoutMs);
  }

  get size(): number {
    return this.byCorrelation.size;
  }

  /** total re-sends so far (for stats and tests) */
  get retryCount(): number {
    return this.retries;
  }

  has(correlationId: bigint): boolean {
    return this.byCorrelation.has(correlationId);
  }

  /** Sends the first attempt now and resolves with the final OK answer and its data. */
  register<T = unknown>(correlationId: bigint, bytes: Buffer, what: string, nowMs: number): Promise<RequestResult<T>> {
    if (this.byCorrelation.has(correlationId)) {
      return Promise.reject(new VcrError(ErrorCode.INVALID_ARGUMENT, `correlationId ${correlationId} is already in flight`));
    }
    return new Promise<RequestResult<T>>((resolve, reject) => {
      const p: Pending = {
        correlationId,
        bytes,
        what,
        attemptsMade: 1,
        deadlineMs: nowMs + this.opts.timeoutMs,
        data: new Map(),
        final: null,
        resolve: resolve as (r: RequestResult) => void,
        reject,
      };
      this.byCorrelation.set(correlationId, p);
      this.trySend(p);
    });
  }

  /**
   * A data message for a request. `key` identifies the item within its answer so that a
   * datagram seen twice (a straggler from an earlier attempt) counts once. Returns false
   * when no request waits for it (late duplicate after completion, or unknown).
   */
  onData(correlationId: bigint, key: string, item: unknown, nowMs: number): boolean {
    const p = this.byCorrelation.get(correlationId);
    if (!p) return false;
    if (!p.data.has(key)) p.data.set(key, item);
    this.maybeComplete(p, nowMs);
    return true;
  }

  onResponse(r: ControlResponse, nowMs: number): boolean {
    const p = this.byCorrelation.get(r.correlationId);
    if (!p) return false;
    if (!r.ok) {
      this.byCorrelation.delete(p.correlationId);
      const code = (r.errorCode || ErrorCode.GENERIC) as ErrorCodeValue;
      p.reject(new VcrError(code, r.errorMessage || `${p.what} failed`));
      return true;
    }
    p.final = r;
    if (!this.maybeComplete(p, nowMs)) {
      // some data messages are missing: they may only be late; re-ask soon if they stay away
      p.deadlineMs = Math.min(p.deadlineMs, nowMs + this.dataGraceMs);
    }
    return true;
  }

  /** Re-sends attempts whose time is up and fails the ones out of attempts. */
  doWork(nowMs: number): number {
    let work = 0;
    for (const p of this.byCorrelation.values()) {
      if (nowMs < p.deadlineMs) continue;
      work++;
      if (p.attemptsMade >= this.opts.attempts) {
        this.byCorrelation.delete(p.correlationId);
        const why = p.final
          ? `got ${p.data.size} of ${p.final.dataCount} data messages`
          : `no answer`;
        p.reject(
          new VcrError(
            ErrorCode.TIMEOUT,
            `${p.what}: ${why} from the ${this.opts.peerName} after ${p.attemptsMade} attempts of ${this.opts.timeoutMs} ms (is it running and reachable?)`,
          ),
        );
        continue;
      }
      p.attemptsMade++;
      p.final = null;
      p.deadlineMs = nowMs + this.opts.timeoutMs;
      this.retries++;
      this.trySend(p);
    }
    return work;
  }

  /** Fails every request in flight (client closing, socket error). */
  failAll(err: Error): void {
    const all = [...this.byCorrelation.values()];
    this.byCorrelation.clear();
    for (const p of all) p.reject(err);
  }

  private maybeComplete(p: Pending, _nowMs: number): boolean {
    if (!p.final || p.data.size < p.final.dataCount) return false;
    this.byCorrelation.delete(p.correlationId);
    p.resolve({ response: p.final, data: [...p.data.values()] });
    return true;
  }

  private trySend(p: Pending): void {
    try {
      this.opts.send(p.bytes);
    } catch {
      // a send that fails synchronously is treated like a lost datagram: the retry timer re-sends
    }
  }
}
