/**
 * Idle strategies decide what an AgentRunner does after a duty cycle, given the work done.
 * Node has one thread, so an idle strategy cannot block: it returns a decision that the runner
 * carries out (keep spinning, yield to the event loop with setImmediate, or park with a timer).
 */

/** Run the next duty cycle immediately without returning to the event loop. */
export const IDLE_SPIN = -1;
/** Return to the event loop (setImmediate) and run again right after pending I/O callbacks. */
export const IDLE_YIELD = 0;

/**
 * IDLE_SPIN, IDLE_YIELD, or a positive number: park for that many nanoseconds (setTimeout,
 * rounded up to whole milliseconds by the runner).
 */
export type IdleDecision = number;

export interface IdleStrategy {
  /** Called after each duty cycle with the work it did. Backs off only when workCount is 0. */
  idle(workCount: number): IdleDecision;
  /** Forget any back-off state (the runner calls this when work resumes or on wake()). */
  reset(): void;
  readonly alias: string;
}

/** Never parks: always yields to the event loop between cycles. Lowest latency, busiest CPU. */
export class NoOpIdleStrategy implements IdleStrategy {
  readonly alias = 'noop';
  idle(_workCount: number): IdleDecision {
    return IDLE_YIELD;
  }
  reset(): void {}
}

/** Parks for a fixed period whenever a cycle did no work. */
export class SleepingIdleStrategy implements IdleStrategy {
  readonly alias = 'sleeping';
  constructor(readonly sleepPeriodNs: number = 1_000_000) {
    if (!(sleepPeriodNs > 0)) throw new RangeError('sleepPeriodNs must be > 0');
  }
  idle(workCount: number): IdleDecision {
    return workCount > 0 ? IDLE_YIELD : this.sleepPeriodNs;
  }
  reset(): void {}
}

export interface BackoffOptions {
  /** Idle cycles that spin before yielding. Default 10. */
  maxSpins?: number;
  /** Idle cycles that yield (setImmediate) before parking. Default 5. */
  maxYields?: number;
  /** First park period. Default 1 ms (timers have millisecond resolution). */
  minParkPeriodNs?: number;
  /** Park periods double up to this. Default 10 ms. */
  maxParkPeriodNs?: number;
}

/** The phases of BackoffIdleStrategy, exposed for tests and stats. */
export const BackoffState = {
  NOT_IDLE: 'NOT_IDLE',
  SPINNING: 'SPINNING',
  YIELDING: 'YIELDING',
  PARKING: 'PARKING',
} as const;
export type BackoffState = (typeof BackoffState)[keyof typeof BackoffState];

/**
 * Spin a few idle cycles, then yield to the event loop a few times, then park with a period
 * that doubles from min to max. Any cycle with work resets it to NOT_IDLE.
 */
export class BackoffIdleStrategy implements IdleStrategy {
  readonly alias = 'backoff';
  readonly maxSpins: number;
  readonly maxYields: number;
  readonly minParkPeriodNs: number;
  readonly maxParkPeriodNs: number;
  private stateValue: BackoffState = BackoffState.NOT_IDLE;
  private spins = 0;
  private yields = 0;
  private parkPeriodNs: number;

  constructor(options: BackoffOptions = {}) {
    this.maxSpins = options.maxSpins ?? 10;
    this.maxYields = options.maxYields ?? 5;
    this.minParkPeriodNs = options.minParkPeriodNs ?? 1_000_000;
    this.maxParkPeriodNs = options.maxParkPeriodNs ?? 10_000_000;
    if (this.maxSpins < 0 || this.maxYields < 0) throw new RangeError('spins and yields must be >= 0');
    if (!(this.minParkPeriodNs > 0) || this.maxParkPeriodNs < this.minParkPeriodNs) {
      throw new RangeError('need 0 < minParkPeriodNs <= maxParkPeriodNs');
    }
    this.parkPeriodNs = this.minParkPeriodNs;
  }

  get state(): BackoffState {
    return this.stateValue;
  }

  idle(workCount: number): IdleDecision {
    if (workCount > 0) {
      this.reset();
      return IDLE_YIELD;
    }
    if (this.stateValue === BackoffState.NOT_IDLE) {
      this.stateValue = BackoffState.SPINNING;
      this.spins = 0;
    }
    if (this.stateValue === BackoffState.SPINNING) {
      if (this.spins < this.maxSpins) {
        this.spins++;
        return IDLE_SPIN;
      }
      this.stateValue = BackoffState.YIELDING;
      this.yields = 0;
    }
    if (this.stateValue === BackoffState.YIELDING) {
      if (this.yields < this.maxYields) {
        this.yields++;
        return IDLE_YIELD;
      }
      this.stateValue = BackoffState.PARKING;
      this.parkPeriodNs = this.minParkPeriodNs;
      return this.parkPeriodNs;
    }
    this.parkPeriodNs = Math.min(this.parkPeriodNs * 2, this.maxParkPeriodNs);
    return this.parkPeriodNs;
  }

  reset(): void {
    this.stateValue = BackoffState.NOT_IDLE;
    this.spins = 0;
    this.yields = 0;
    this.parkPeriodNs = this.minParkPeriodNs;
  }
}
