/**
 * The connecting side of the framed-TCP transport: keeps one connection to an endpoint,
 * re-establishing it with capped exponential back-off, as an agent stepped by its owner's
 * duty cycle (`doWork()`), with an injected clock so tests step time instead of sleeping.
 *
 * States: CONNECTING (a connect is in flight, bounded by `connectTimeoutMs`) -> CONNECTED
 * (`connection` is open) -> BACKOFF (waiting before the next attempt) -> CONNECTING ...;
 * CLOSED after close() or after `maxAttempts` failed attempts in a row (then `error` says why).
 *
 * Hooks run from doWork(), never from a socket callback: `onConnected(connection)` when a
 * connection is up, so the owner can (re)send its hello and ask to resume a stream from the
 * position it has; `onDisconnected(connection)` when it went down, while its last received
 * frames can still be polled. The back-off delay doubles per failed attempt from
 * `initialBackoffMs` up to `maxBackoffMs`, with optional jitter; it starts again from the
 * initial delay once a connection has stayed up for `stableAfterMs`, so a peer that accepts
 * and drops at once is still retried at the capped rate.
 * A connection with heartbeats (`connection.heartbeatIntervalMs`) is stepped from doWork()
 * too, so one found dead (nothing received for its heartbeat timeout) goes down like a reset
 * one: `onDisconnected`, back-off, reconnect. Give it the same `clock`.
 */
import { isIP } from 'node:net';
import { systemNanoClock, type NanoClock } from '../util/clock.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { formatHostPort, parseEndpoint, type ParsedEndpoint } from '../util/endpoint.js';
import { Connection, ConnectionState } from './connection.js';
import { resolveConnectionOptions, type ConnectionOptions } from './connection-options.js';

export const ReconnectorState = {
  CONNECTING: 'CONNECTING',
  CONNECTED: 'CONNECTED',
  BACKOFF: 'BACKOFF',
  CLOSED: 'CLOSED',
} as const;
export type ReconnectorState = (typeof ReconnectorState)[keyof typeof ReconnectorState];

export interface ReconnectorOptions {
  clock?: NanoClock;
  /** first back-off delay, default 100 ms */
  initialBackoffMs?: number;
  /** largest back-off delay, default 5,000 ms */
  maxBackoffMs?: number;
  /** a connect that has not completed after this fails, default 5,000 ms */
  connectTimeoutMs?: number;
  /** a connection up this long resets the back-off, default 1,000 ms */
  stableAfterMs?: number;
  /** failed attempts in a row before giving up (CLOSED with `error`), default unlimited */
  maxAttempts?: number;
  /** each delay is scaled by a random factor in [1 - jitter, 1], default 0 (none) */
  jitter?: number;
  /** random numbers in [0, 1) for the jitter, default Math.random */
  random?: () => number;
  connection?: ConnectionOptions;
  /** the local address every connection binds to (an address literal), default any */
  localAddress?: string;
  onConnected?: (connection: Connection) => void;
  onDisconnected?: (connection: Connection) => void;
  /** what the endpoint is, for error messages */
  what?: string;
}

const MS = 1_000_000n;

export class Reconnector {
  readonly endpoint: ParsedEndpoint;
  private readonly clock: NanoClock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly connectTimeoutNs: bigint;
  private readonly stableAfterNs: bigint;
  private readonly maxAttempts: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly connectionOptions: ConnectionOptions;
  private readonly localAddress: string | undefined;
  private readonly onConnected: ((connection: Connection) => void) | undefined;
  private readonly onDisconnected: ((connection: Connection) => void) | undefined;
  private currentState: ReconnectorState = ReconnectorState.CONNECTING;
  private current: Connection | undefined;
  private deadlineNs = 0n;
  private connectedAtNs = 0n;
  private failures = 0;
  private connectsCount = 0;
  private lastError: VcrError | undefined;
  private started = false;

  /** Parses the endpoint (`tcp://HOST:PORT` or `HOST:PORT`); the first doWork() connects. */
  constructor(endpoint: string, options: ReconnectorOptions = {}) {
    this.endpoint = parseEndpoint(endpoint, { schemes: ['tcp', 'none'], what: options.what ?? 'transport endpoint' });
    this.clock = options.clock ?? systemNanoClock;
    this.initialBackoffMs = nonNegative(options.initialBackoffMs ?? 100, 'initialBackoffMs');
    this.maxBackoffMs = nonNegative(options.maxBackoffMs ?? 5000, 'maxBackoffMs');
    this.connectTimeoutNs = BigInt(Math.round(nonNegative(options.connectTimeoutMs ?? 5000, 'connectTimeoutMs'))) * MS;
    this.stableAfterNs = BigInt(Math.round(nonNegative(options.stableAfterMs ?? 1000, 'stableAfterMs'))) * MS;
    this.maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.jitter = options.jitter ?? 0;
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `jitter ${this.jitter} must be from 0 to 1`);
    this.random = options.random ?? Math.random;
    this.connectionOptions = options.connection ?? {};
    if (options.localAddress !== undefined && isIP(options.localAddress) === 0) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `localAddress ${JSON.stringify(options.localAddress)} must be an IP address literal`);
    }
    this.localAddress = options.localAddress;
    resolveConnectionOptions(this.connectionOptions);
    this.onConnected = options.onConnected;
    this.onDisconnected = options.onDisconnected;
  }

  get state(): ReconnectorState {
    return this.currentState;
  }

  /** The connection while CONNECTED; undefined otherwise. */
  get connection(): Connection | undefined {
    return this.currentState === ReconnectorState.CONNECTED ? this.current : undefined;
  }

  /** The last connect failure or connection error. */
  get error(): VcrError | undefined {
    return this.lastError;
  }

  /** Failed attempts since the last stable connection. */
  get failedAttempts(): number {
    return this.failures;
  }

  /** Connections established so far. */
  get connects(): number {
    return this.connectsCount;
  }

  /** When (monotonic ns) the next attempt starts, while in BACKOFF. */
  get nextAttemptNs(): bigint {
    return this.deadlineNs;
  }

  get address(): string {
    return formatHostPort(this.endpoint.host, this.endpoint.port);
  }

  doWork(): number {
    switch (this.currentState) {
      case ReconnectorState.CONNECTING:
        return this.stepConnecting();
      case ReconnectorState.CONNECTED:
        return this.stepConnected();
      case ReconnectorState.BACKOFF:
        if (this.clock.nanoTime() < this.deadlineNs) return 0;
        this.startAttempt();
        return 1;
      default:
        return 0;
    }
  }

  /** Closes the connection (gracefully) and stops reconnecting. Idempotent. */
  close(reason = 'closed by the owner'): void {
    if (this.currentState === ReconnectorState.CLOSED) return;
    this.currentState = ReconnectorState.CLOSED;
    this.current?.close(reason);
    this.current = undefined;
  }

  private stepConnecting(): number {
    if (!this.started) {
      this.started = true;
      this.startAttempt();
      return 1;
    }
    const c = this.current!;
    if (c.state === ConnectionState.OPEN) {
      this.currentState = ReconnectorState.CONNECTED;
      this.connectedAtNs = this.clock.nanoTime();
      this.connectsCount++;
      this.onConnected?.(c);
      return 1;
    }
    if (c.state !== ConnectionState.CONNECTING) {
      this.current = undefined;
      c.abort('connect failed');
      const cause = c.error;
      this.fail(new VcrError(ErrorCode.IO_ERROR, `cannot connect to ${this.address}: ${cause?.message ?? c.closeReason ?? 'closed'}`, { cause }));
      return 1;
    }
    if (this.clock.nanoTime() >= this.deadlineNs) {
      this.current = undefined;
      c.abort('connect timed out');
      this.fail(new VcrError(ErrorCode.TIMEOUT, `cannot connect to ${this.address}: no answer within ${this.connectTimeoutNs / MS} ms`));
      return 1;
    }
    return 0;
  }

  private stepConnected(): number {
    const c = this.current!;
    const work = c.doWork(); // heartbeats and the liveness check, when the connection has them
    if (c.isOpen) return work;
    this.current = undefined;
    if (c.error) this.lastError = c.error;
    // a connection that dropped soon after it came up counts as a failed attempt
    const stable = this.clock.nanoTime() - this.connectedAtNs >= this.stableAfterNs;
    this.onDisconnected?.(c);
    c.abort('reconnecting');
    if (this.currentState !== ReconnectorState.CONNECTED) return 1; // the hook closed us
    if (stable) {
      this.failures = 0;
      this.backOff();
    } else {
      this.fail(c.error ?? new VcrError(ErrorCode.IO_ERROR, `connection to ${this.address} closed ${c.closeReason ?? ''} right after it opened`));
    }
    return 1;
  }

  private startAttempt(): void {
    this.currentState = ReconnectorState.CONNECTING;
    this.deadlineNs = this.clock.nanoTime() + this.connectTimeoutNs;
    this.current = Connection.connect(this.endpoint.host, this.endpoint.port, this.connectionOptions, this.localAddress);
  }

  private fail(error: VcrError): void {
    this.lastError = error;
    this.failures++;
    if (this.failures >= this.maxAttempts) {
      this.currentState = ReconnectorState.CLOSED;
      return;
    }
    this.backOff();
  }

  private backOff(): void {
    const exp = Math.min(this.failures, 30);
    let delay = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** exp);
    if (this.jitter > 0) delay *= 1 - this.jitter * this.random();
    this.deadlineNs = this.clock.nanoTime() + BigInt(Math.round(delay * 1e6));
    this.currentState = ReconnectorState.BACKOFF;
  }
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${name} ${value} must be a number >= 0`);
  return value;
}
