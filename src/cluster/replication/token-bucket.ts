/**
 * Paces the bytes a node asks other nodes for (repair is limited to `repairBytesPerSec` per
 * fetching node, docs/REPLICATION.md §5.5): tokens accrue at the rate up to a capacity, and a
 * fetch window is asked for only once its bytes can be taken. Time comes from the caller's
 * injected clock.
 */
import { ErrorCode, VcrError } from '../../util/errors.js';

export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly bytesPerSec: number,
    readonly capacity: number,
    nowMs: number,
  ) {
    if (!(bytesPerSec > 0) || !(capacity > 0)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `token bucket rate ${bytesPerSec} and capacity ${capacity} must be positive`);
    this.tokens = capacity;
    this.lastMs = nowMs;
  }

  /** Takes `bytes` (at most the capacity is ever asked) if they are there now. */
  tryTake(bytes: number, nowMs: number): boolean {
    this.refill(nowMs);
    const need = Math.min(bytes, this.capacity);
    if (this.tokens < need) return false;
    this.tokens -= need;
    return true;
  }

  /** Gives back bytes taken but not used (a window that ended short). */
  giveBack(bytes: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + Math.max(0, bytes));
  }

  /** Milliseconds until `bytes` can be taken. */
  waitMs(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    const need = Math.min(bytes, this.capacity);
    return need <= this.tokens ? 0 : Math.ceil(((need - this.tokens) / this.bytesPerSec) * 1000);
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) * this.bytesPerSec) / 1000);
      this.lastMs = nowMs;
    }
  }
}
