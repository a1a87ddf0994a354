/**
 * The table of control sessions and the rules for getting into it (docs/ARCHIVER.md, Control
 * sessions):
 *
 * - a session belongs to the address and port its connect came from;
 * - its id is unguessable and never reused (SessionIdGenerator);
 * - its keep-alive is the client's ask clamped to `limits.maxKeepAliveMs` (0 asks for the
 *   default `limits.sessionTimeoutMs`), so no client can hold a slot for a day without talking;
 * - one address holds at most `limits.maxSessionsPerAddress` sessions; a connect beyond that is
 *   refused (NOT_ALLOWED) and that address's other sessions are left alone;
 * - when the whole table (`limits.maxSessions`) is full, a connect from an address that holds
 *   fewer sessions than the address holding the most evicts that address's idlest session, so
 *   a client from a new address always gets in; otherwise it is refused (NOT_ALLOWED).
 *
 * A repeated connect (same source address, same correlationId) gets its session back.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { ControlSession } from './control-session.js';
import { SessionIdGenerator } from './session-ids.js';

export interface SessionLimits {
  maxSessions: number;
  maxSessionsPerAddress: number;
  /** keep-alive of sessions that connect with 0 (ms) */
  sessionTimeoutMs: number;
  /** longest keep-alive a client may ask for (ms); larger asks are clamped */
  maxKeepAliveMs: number;
}

export interface ConnectParams {
  host: string;
  port: number;
  correlationId: bigint;
  keepAliveTimeoutMs: number;
  responseHost: string;
  responsePort: number;
  clientName: string;
  nowNs: bigint;
}

export interface ConnectResult {
  session: ControlSession;
  /** the same connect was seen before: this is the session it opened */
  repeated: boolean;
  /** a session taken out of the table to make room (the caller stops what it owned) */
  evicted: ControlSession | undefined;
}

export class ControlSessions {
  private readonly byId = new Map<number, ControlSession>();
  private readonly connects = new Map<string, number>();
  private readonly connectKeys = new Map<number, string>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly ids = new SessionIdGenerator(),
  ) {}

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<ControlSession> {
    return this.byId.values();
  }

  [Symbol.iterator](): IterableIterator<ControlSession> {
    return this.byId.values();
  }

  /**
   * A session outside the table, for requests made inside the process (the HTTP console): its
   * id comes from the same generator (so it is never another session's), it is never timed
   * out or evicted, and it takes no slot from clients.
   */
  detached(clientName: string, nowNs: bigint): ControlSession {
    return new ControlSession(this.ids.next(), 'local', 0, 'local', 0, BigInt(Number.MAX_SAFE_INTEGER), nowNs, clientName);
  }

  /** The session a request names (ids outside 1..2^53-1 name none). */
  find(controlSessionId: number): ControlSession | undefined {
    if (controlSessionId <= 0) return undefined;
    return this.byId.get(controlSessionId);
  }

  /** Sessions per client address (for stats and tests). */
  sessionsOf(host: string): number {
    return this.perAddress.get(host) ?? 0;
  }

  /** The keep-alive a connect asking for `askedMs` gets. */
  keepAliveFor(askedMs: number): number {
    return Math.min(askedMs > 0 ? askedMs : this.limits.sessionTimeoutMs, this.limits.maxKeepAliveMs);
  }

  /** Opens (or finds again) the session of a connect; throws VcrError NOT_ALLOWED when it may not. */
  connect(p: ConnectParams): ConnectResult {
    const key = `${p.host}:${p.port}:${p.correlationId}`;
    const existingId = this.connects.get(key);
    const existing = existingId !== undefined ? this.byId.get(existingId) : undefined;
    if (existing) {
      existing.touch(p.nowNs);
      return { session: existing, repeated: true, evicted: undefined };
    }
    const held = this.sessionsOf(p.host);
    if (held >= this.limits.maxSessionsPerAddress) {
      throw new VcrError(
        ErrorCode.NOT_ALLOWED,
        `address ${p.host} already holds ${held} control sessions (limits.maxSessionsPerAddress); close one or wait for it to time out`,
      );
    }
    let evicted: ControlSession | undefined;
    if (this.byId.size >= this.limits.maxSessions) {
      evicted = this.evictionCandidate(p.host, held);
      if (!evicted) {
        throw new VcrError(ErrorCode.NOT_ALLOWED, `all ${this.limits.maxSessions} control sessions are in use (limits.maxSessions)`);
      }
      this.remove(evicted);
    }
    const timeoutMs = this.keepAliveFor(p.keepAliveTimeoutMs);
    const s = new ControlSession(
      this.ids.next(),
      p.host,
      p.port,
      p.responseHost,
      p.responsePort,
      BigInt(timeoutMs) * 1_000_000n,
      p.nowNs,
      p.clientName,
    );
    this.byId.set(s.sessionId, s);
    this.connects.set(key, s.sessionId);
    this.connectKeys.set(s.sessionId, key);
    this.perAddress.set(p.host, held + 1);
    return { session: s, repeated: false, evicted };
  }

  /** Takes a session out of the table (idempotent); the caller closes it. */
  remove(s: ControlSession): void {
    if (this.byId.get(s.sessionId) !== s) return;
    this.byId.delete(s.sessionId);
    const key = this.connectKeys.get(s.sessionId);
    if (key !== undefined) this.connects.delete(key);
    this.connectKeys.delete(s.sessionId);
    const n = (this.perAddress.get(s.clientHost) ?? 1) - 1;
    if (n > 0) this.perAddress.set(s.clientHost, n);
    else this.perAddress.delete(s.clientHost);
  }

  /** Sessions that have sent nothing for their keep-alive. */
  timedOut(nowNs: bigint): ControlSession[] {
    const out: ControlSession[] = [];
    for (const s of this.byId.values()) if (s.isTimedOut(nowNs)) out.push(s);
    return out;
  }

  /** The idlest session of the address holding the most, if that is more than `held`. */
  private evictionCandidate(host: string, held: number): ControlSession | undefined {
    let top: string | undefined;
    let most = 0;
    for (const [addr, n] of this.perAddress) {
      if (n > most) {
        most = n;
        top = addr;
      }
    }
    if (top === undefined || top === host || most <= held) return undefined;
    let idlest: ControlSession | undefined;
    for (const s of this.byId.values()) {
      if (s.clientHost === top && (!idlest || s.lastHeardAtNs < idlest.lastHeardAtNs)) idlest = s;
    }
    return idlest;
  }
}
