/**
 * Liveness of one connection (heartbeats), as a check its owner's duty cycle steps with an
 * injected clock. A link whose packets simply vanish (a partition, a dead NAT: no RST, no FIN)
 * looks to TCP like a quiet peer for many minutes; this tells the two apart.
 *
 * - Each side sends a heartbeat frame when it has written nothing for `intervalMs`, so a
 *   healthy link is never silent for longer than that plus one duty cycle.
 * - A connection that has received nothing at all (no frame, no heartbeat: any byte counts,
 *   so a busy peer is never suspected) for `timeoutMs` is dead.
 * - Silence this side caused does not count: while the connection's socket is paused (its
 *   inbound queue is full because the owner polls slowly) nothing can be received; and after a
 *   stall of this process (two checks further apart than `intervalMs`: a long duty cycle, a
 *   blocked event loop, the OS not running it), the peer's bytes may be sitting unread in the
 *   kernel, so the peer gets at least one more interval of this side being awake before it
 *   is judged. A process that stalls does not condemn its peers; its peers, which did not
 *   hear from it, may condemn it (REPLICATION.md §11).
 *
 * Socket callbacks only set flags (`onReceived`, `onSent`); times are taken at `check`, so a
 * check reads the clock once and tests step it with a ManualClock.
 */
import type { NanoClock } from '../util/clock.js';
import { MIN_PAYLOAD } from './frame-decoder.js';

/**
 * A heartbeat's payload: an SBE message header that is all zeros (block length 0, template 0,
 * schema 0, version 0). Schema id 0 is reserved for the transport; no message schema uses it.
 */
export const HEARTBEAT_LENGTH = MIN_PAYLOAD;

/** True when the payload at `offset` (its length prefix excluded) is a heartbeat. */
export function isHeartbeat(buffer: Buffer, offset: number, length: number): boolean {
  return length === HEARTBEAT_LENGTH && buffer.readUInt32LE(offset) === 0 && buffer.readUInt32LE(offset + 4) === 0;
}

export const LivenessVerdict = {
  ALIVE: 'ALIVE',
  /** nothing was sent for the interval: send a heartbeat now */
  HEARTBEAT: 'HEARTBEAT',
  /** nothing was received for the timeout: close the connection */
  DEAD: 'DEAD',
} as const;
export type LivenessVerdict = (typeof LivenessVerdict)[keyof typeof LivenessVerdict];

const MS = 1_000_000n;

export class Liveness {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  private readonly intervalNs: bigint;
  private readonly timeoutNs: bigint;
  private started = false;
  private lastCheckNs = 0n;
  private lastReceivedNs = 0n;
  private lastSentNs = 0n;
  private received = false;
  private sent = false;

  constructor(
    intervalMs: number,
    timeoutMs: number,
    private readonly clock: NanoClock,
  ) {
    this.intervalMs = intervalMs;
    this.timeoutMs = timeoutMs;
    this.intervalNs = BigInt(Math.round(intervalMs * 1e6));
    this.timeoutNs = BigInt(Math.round(timeoutMs * 1e6));
  }

  /** Bytes arrived (from the socket callback). */
  onReceived(): void {
    this.received = true;
  }

  /** Bytes were handed to the socket. */
  onSent(): void {
    this.sent = true;
  }

  /** The heartbeat a HEARTBEAT verdict asked for was written (it counts as sent at that check, not the next). */
  heartbeatSent(): void {
    this.sent = false;
  }

  /** Milliseconds since something was last received, as of the last check. */
  get silenceMs(): number {
    return Number((this.lastCheckNs - this.lastReceivedNs) / MS);
  }

  /**
   * Steps the check: `readPaused` while this side does not read; `canHeartbeat` when a
   * heartbeat could be sent now (nothing buffered, no claim open). The first check starts
   * the clocks. HEARTBEAT means the caller sends one now (it counts as sent).
   */
  check(readPaused: boolean, canHeartbeat: boolean): LivenessVerdict {
    const now = this.clock.nanoTime();
    if (!this.started) {
      this.started = true;
      this.lastCheckNs = this.lastReceivedNs = this.lastSentNs = now;
      this.received = this.sent = false;
      return LivenessVerdict.ALIVE;
    }
    const gap = now - this.lastCheckNs;
    this.lastCheckNs = now;
    if (this.received || readPaused) {
      this.received = false;
      this.lastReceivedNs = now;
    } else if (gap > this.intervalNs) {
      // this process stalled: give the peer one more interval of us being awake
      const floor = now - this.timeoutNs + this.intervalNs;
      if (floor > this.lastReceivedNs) this.lastReceivedNs = floor;
    }
    if (this.sent) {
      this.sent = false;
      this.lastSentNs = now;
    }
    if (now - this.lastReceivedNs >= this.timeoutNs) return LivenessVerdict.DEAD;
    if (canHeartbeat && now - this.lastSentNs >= this.intervalNs) {
      this.lastSentNs = now;
      return LivenessVerdict.HEARTBEAT;
    }
    return LivenessVerdict.ALIVE;
  }
}
