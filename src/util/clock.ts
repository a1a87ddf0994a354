/**
 * Injected clocks. Everything that reads time takes one of these interfaces so tests can step
 * time with a ManualClock instead of sleeping.
 *
 * - NanoClock: monotonic nanoseconds (arbitrary origin), for intervals, deadlines, pacing.
 * - EpochNanoClock: UTC nanoseconds since the Unix epoch, for event timestamps.
 *
 * The wall clock can step (NTP, an operator) in either direction; MonotonicUtcClock derives UTC
 * from one anchor plus the monotonic clock and slews gently towards the wall clock, so the UTC
 * it returns never goes backwards (SPEC §2 Record).
 */

export interface NanoClock {
  /** Monotonic time in nanoseconds; never decreases. */
  nanoTime(): bigint;
}

export interface EpochNanoClock {
  /** UTC time in nanoseconds since 1970-01-01T00:00:00Z. */
  epochNanos(): bigint;
}

export const systemNanoClock: NanoClock = {
  nanoTime: () => process.hrtime.bigint(),
};

/** The wall clock as the OS reports it (millisecond resolution, may step). */
export const systemEpochNanoClock: EpochNanoClock = {
  epochNanos: () => BigInt(Date.now()) * 1_000_000n,
};

/**
 * A clock for tests: monotonic and wall time are separate so a test can step the wall clock
 * (forwards or backwards) without the monotonic clock moving.
 */
export class ManualClock implements NanoClock, EpochNanoClock {
  constructor(
    private monoNs: bigint = 0n,
    private utcNs: bigint = 1_700_000_000_000_000_000n,
  ) {}

  nanoTime(): bigint {
    return this.monoNs;
  }

  epochNanos(): bigint {
    return this.utcNs;
  }

  /** Advance both clocks, as real time passing does. */
  advanceNs(ns: bigint | number): void {
    const d = BigInt(ns);
    if (d < 0n) throw new RangeError('time does not run backwards; use stepWallClockNs');
    this.monoNs += d;
    this.utcNs += d;
  }

  advanceMs(ms: number): void {
    this.advanceNs(BigInt(Math.round(ms * 1e6)));
  }

  /** Step the wall clock alone (an NTP step or an operator changing the date). */
  stepWallClockNs(ns: bigint | number): void {
    this.utcNs += BigInt(ns);
  }

  setWallClockNs(utcNs: bigint): void {
    this.utcNs = utcNs;
  }
}

export interface MonotonicUtcClockOptions {
  /** How often (monotonic ns) to compare with the wall clock. Default 1 s. */
  checkIntervalNs?: bigint;
  /** Maximum correction rate in parts per million of elapsed time. Default 500 (0.5 ms/s). */
  maxSlewPpm?: number;
  /**
   * A wall-clock jump larger than this is a step: still slewed at the bounded rate (UTC must
   * not go backwards), and reported once through onStep so it shows in logs. Default 1 s.
   */
  stepThresholdNs?: bigint;
  onStep?: (offsetNs: bigint) => void;
}

/**
 * UTC = anchorUtc + (mono - anchorMono) + correction, where correction moves towards the wall
 * clock at no more than maxSlewPpm of elapsed monotonic time. Because elapsed monotonic time
 * is never negative and the correction can shrink by at most 0.05% of it, the result is
 * strictly non-decreasing, whatever the wall clock does.
 */
export class MonotonicUtcClock implements EpochNanoClock {
  private readonly checkIntervalNs: bigint;
  private readonly slewPpm: bigint;
  private readonly stepThresholdNs: bigint;
  private readonly onStep: ((offsetNs: bigint) => void) | undefined;
  private anchorMonoNs: bigint;
  private anchorUtcNs: bigint;
  /** Remaining correction to apply (wall - ours at the last check), positive = we are behind. */
  private pendingCorrectionNs = 0n;
  private nextCheckMonoNs: bigint;
  private lastReturnedNs: bigint;

  constructor(
    readonly mono: NanoClock = systemNanoClock,
    private readonly wall: EpochNanoClock = systemEpochNanoClock,
    options: MonotonicUtcClockOptions = {},
  ) {
    this.checkIntervalNs = options.checkIntervalNs ?? 1_000_000_000n;
    this.slewPpm = BigInt(Math.max(0, Math.round(options.maxSlewPpm ?? 500)));
    this.stepThresholdNs = options.stepThresholdNs ?? 1_000_000_000n;
    this.onStep = options.onStep;
    this.anchorMonoNs = mono.nanoTime();
    this.anchorUtcNs = wall.epochNanos();
    this.nextCheckMonoNs = this.anchorMonoNs + this.checkIntervalNs;
    this.lastReturnedNs = this.anchorUtcNs;
  }

  epochNanos(): bigint {
    return this.epochNanosAt(this.mono.nanoTime());
  }

  /**
   * UTC for a monotonic time just read from this clock's own `mono` (saves a second clock
   * read on hot paths that need both). `monoNs` must not be older than the last call's.
   */
  epochNanosAt(monoNs: bigint): bigint {
    const now = monoNs;
    let elapsed = now - this.anchorMonoNs;
    if (elapsed < 0n) elapsed = 0n; // a misbehaving injected clock must not move UTC back
    let correction = 0n;
    if (this.pendingCorrectionNs !== 0n) {
      const maxStep = (elapsed * this.slewPpm) / 1_000_000n;
      const p = this.pendingCorrectionNs;
      correction = p > 0n ? (p < maxStep ? p : maxStep) : (-p < maxStep ? p : -maxStep);
    }
    let utc = this.anchorUtcNs + elapsed + correction;
    if (now >= this.nextCheckMonoNs) {
      // Re-anchor here: fold the applied correction in and measure the remaining offset.
      this.anchorMonoNs = now;
      this.anchorUtcNs = utc;
      const offset = this.wall.epochNanos() - utc;
      // Report only what the slew in progress does not explain: a new step, once.
      const unexplained = offset - (this.pendingCorrectionNs - correction);
      const abs = unexplained < 0n ? -unexplained : unexplained;
      if (abs > this.stepThresholdNs && this.onStep) this.onStep(unexplained);
      if (offset > this.stepThresholdNs) {
        // A large forward step (e.g. a machine that booted with a stale clock) is taken at
        // once: jumping forward keeps UTC monotonic, and slewing an hour at 0.5 ms/s would
        // take months. Backward steps are always slewed, never jumped.
        this.anchorUtcNs += offset;
        this.pendingCorrectionNs = 0n;
      } else {
        this.pendingCorrectionNs = offset;
      }
      this.nextCheckMonoNs = now + this.checkIntervalNs;
    }
    if (utc < this.lastReturnedNs) utc = this.lastReturnedNs; // belt and braces
    this.lastReturnedNs = utc;
    return utc;
  }

  /** Current distance wall - ours, as measured at the last check (for stats and tests). */
  get pendingOffsetNs(): bigint {
    return this.pendingCorrectionNs;
  }
}
