/**
 * One client's control session: the address it belongs to (the source of its connect; requests
 * from anywhere else are refused), where its responses go, when it was last heard from, what it
 * subscribed to, and the cache of its most recent answers. The cache is what makes retries
 * safe: a request whose correlationId was already answered is answered again from the cache
 * (the exact datagrams) and never executed twice (docs/PROTOCOL.md, Requests and responses).
 * Each cached answer keeps the fingerprint of its request (type and a hash of its bytes), so a
 * different request that reuses the correlationId is told so instead of getting the old answer.
 */

export const ControlSessionState = {
  ACTIVE: 'ACTIVE',
  CLOSED: 'CLOSED',
} as const;
export type ControlSessionState = (typeof ControlSessionState)[keyof typeof ControlSessionState];

export interface CacheLimits {
  maxAnswers: number;
  maxBytes: number;
  /** How many correlationIds of evicted answers are remembered (to refuse re-execution). */
  maxEvictedIds: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { maxAnswers: 256, maxBytes: 4 * 1024 * 1024, maxEvictedIds: 4096 };

export type CacheLookup =
  | { kind: 'new' }
  | { kind: 'answered'; datagrams: Buffer[] }
  | { kind: 'pending' }
  | { kind: 'evicted' }
  /** the correlationId belongs to a different request (its fingerprint differs) */
  | { kind: 'reused' };

interface CachedAnswer {
  fingerprint: string;
  datagrams: Buffer[];
}

export class ControlSession {
  private stateValue: ControlSessionState = ControlSessionState.ACTIVE;
  private lastHeardNs: bigint;
  /** NotificationMask bits; 0 = not subscribed. */
  mask = 0;
  private readonly answers = new Map<bigint, CachedAnswer>();
  /**
   * Insertion order of answers, for eviction. Kept apart from the Map because taking the
   * first entry of a V8 Map after many deletions walks over the deleted slots.
   */
  private order: bigint[] = [];
  private orderHead = 0;
  private cachedBytes = 0;
  /** correlationId -> fingerprint of answers evicted from the cache */
  private readonly evicted = new Map<bigint, string>();
  private readonly evictedOrder: bigint[] = [];
  private readonly pending = new Map<bigint, string>();

  constructor(
    readonly sessionId: number,
    /** the address and port the connect came from: the only ones this session accepts requests from */
    readonly clientHost: string,
    readonly clientPort: number,
    readonly responseHost: string,
    readonly responsePort: number,
    readonly timeoutNs: bigint,
    nowNs: bigint,
    readonly clientName: string,
    private readonly limits: CacheLimits = DEFAULT_CACHE_LIMITS,
  ) {
    this.lastHeardNs = nowNs;
  }

  get state(): ControlSessionState {
    return this.stateValue;
  }

  touch(nowNs: bigint): void {
    this.lastHeardNs = nowNs;
  }

  /** Monotonic ns of the last request (or connect) heard from the client. */
  get lastHeardAtNs(): bigint {
    return this.lastHeardNs;
  }

  isTimedOut(nowNs: bigint): boolean {
    return nowNs - this.lastHeardNs > this.timeoutNs;
  }

  /** Whether a datagram from host:port may act in this session. */
  belongsTo(host: string, port: number): boolean {
    return this.clientPort === port && this.clientHost === host;
  }

  /** What the cache knows of correlationId, for a request with this fingerprint. */
  lookup(correlationId: bigint, fingerprint: string): CacheLookup {
    const a = this.answers.get(correlationId);
    if (a) return a.fingerprint === fingerprint ? { kind: 'answered', datagrams: a.datagrams } : { kind: 'reused' };
    const p = this.pending.get(correlationId);
    if (p !== undefined) return p === fingerprint ? { kind: 'pending' } : { kind: 'reused' };
    const e = this.evicted.get(correlationId);
    if (e !== undefined) return e === fingerprint ? { kind: 'evicted' } : { kind: 'reused' };
    return { kind: 'new' };
  }

  /** The request is being executed and its answer will come later (e.g. a source binding). */
  markPending(correlationId: bigint, fingerprint: string): void {
    this.pending.set(correlationId, fingerprint);
  }

  /** Keeps the answer to a request; evicts the oldest answers beyond the limits. */
  remember(correlationId: bigint, fingerprint: string, datagrams: Buffer[]): void {
    this.pending.delete(correlationId);
    const old = this.answers.get(correlationId);
    if (old) this.cachedBytes -= byteSize(old.datagrams);
    else this.order.push(correlationId);
    this.evicted.delete(correlationId);
    this.answers.set(correlationId, { fingerprint, datagrams });
    this.cachedBytes += byteSize(datagrams);
    while (this.answers.size > this.limits.maxAnswers || (this.cachedBytes > this.limits.maxBytes && this.answers.size > 1)) {
      const oldestId = this.order[this.orderHead++]!;
      const oldest = this.answers.get(oldestId);
      if (!oldest) continue;
      this.answers.delete(oldestId);
      this.cachedBytes -= byteSize(oldest.datagrams);
      this.evicted.set(oldestId, oldest.fingerprint);
      this.evictedOrder.push(oldestId);
      if (this.evicted.size > this.limits.maxEvictedIds) this.evicted.delete(this.evictedOrder.shift()!);
    }
    if (this.orderHead > 1024) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  get cachedAnswerCount(): number {
    return this.answers.size;
  }

  get cachedAnswerBytes(): number {
    return this.cachedBytes;
  }

  close(): void {
    this.stateValue = ControlSessionState.CLOSED;
    this.answers.clear();
    this.pending.clear();
    this.evicted.clear();
    this.evictedOrder.length = 0;
    this.order = [];
    this.orderHead = 0;
    this.cachedBytes = 0;
    this.mask = 0;
  }
}

function byteSize(d: Buffer[]): number {
  let n = 0;
  for (const b of d) n += b.length;
  return n;
}
