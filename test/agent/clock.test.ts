import { describe, expect, it } from 'vitest';
import { ManualClock, MonotonicUtcClock, systemEpochNanoClock, systemNanoClock } from '../../src/util/clock.js';

const MS = 1_000_000n;
const S = 1_000_000_000n;

describe('clocks', () => {
  it('system clocks: monotonic ns and UTC ns near Date.now()', () => {
    const a = systemNanoClock.nanoTime();
    const b = systemNanoClock.nanoTime();
    expect(b >= a).toBe(true);
    const utc = systemEpochNanoClock.epochNanos();
    expect(Number(utc / MS) - Date.now()).toBeLessThan(1000);
  });

  it('MonotonicUtcClock follows the monotonic clock between checks', () => {
    const c = new ManualClock(0n, 1_000n * S);
    const utc = new MonotonicUtcClock(c, c);
    expect(utc.epochNanos()).toBe(1_000n * S);
    c.advanceNs(123_456n);
    expect(utc.epochNanos()).toBe(1_000n * S + 123_456n);
  });

  it('never goes backwards when the wall clock steps back, and converges at the bounded rate', () => {
    const c = new ManualClock(0n, 1_000n * S);
    const steps: bigint[] = [];
    const utc = new MonotonicUtcClock(c, c, { maxSlewPpm: 500, checkIntervalNs: S, onStep: (o) => steps.push(o) });
    utc.epochNanos();
    c.advanceNs(500n * MS);
    let prev = utc.epochNanos();
    c.stepWallClockNs(-2n * S); // NTP steps the wall clock 2 s back
    const samples: bigint[] = [];
    let violations = 0;
    for (let i = 0; i < 20_000; i++) {
      c.advanceNs(10n * MS);
      const now = utc.epochNanos();
      // each 10 ms of monotonic time moves UTC forward by 10 ms +- 0.05%
      if (now - prev < 10n * MS - 5_000n || now - prev > 10n * MS + 5_000n) violations++;
      prev = now;
      samples.push(c.epochNanos() - now);
    }
    expect(violations).toBe(0);
    expect(steps).toEqual([-2n * S]); // reported once, not at every check while slewing
    // 200 s at 0.5 ms/s corrects 100 ms of the 2 s offset, no more.
    const remaining = -samples[samples.length - 1]!;
    expect(remaining).toBeGreaterThan(2n * S - 101n * MS);
    expect(remaining).toBeLessThan(2n * S - 98n * MS);
  });

  it('slews forward when the wall clock steps ahead, and stops once caught up', () => {
    const c = new ManualClock(0n, 1_000n * S);
    const utc = new MonotonicUtcClock(c, c, { maxSlewPpm: 500 });
    utc.epochNanos();
    c.stepWallClockNs(3n * MS); // 3 ms ahead: 6 s of slewing at 0.5 ms/s
    for (let i = 0; i < 100; i++) {
      c.advanceNs(100n * MS);
      utc.epochNanos();
    }
    expect(c.epochNanos() - utc.epochNanos()).toBe(0n);
    for (let i = 0; i < 50; i++) {
      c.advanceNs(100n * MS);
      expect(c.epochNanos() - utc.epochNanos()).toBe(0n);
    }
  });

  it('takes a large forward step at once (UTC stays monotonic)', () => {
    const c = new ManualClock(0n, 1_000n * S);
    const utc = new MonotonicUtcClock(c, c, { maxSlewPpm: 500, stepThresholdNs: S });
    const before = utc.epochNanos();
    c.stepWallClockNs(3_600n * S); // an hour ahead
    c.advanceNs(1_100n * MS); // past the next check
    const atCheck = utc.epochNanos();
    expect(atCheck > before).toBe(true);
    c.advanceNs(10n * MS);
    expect(c.epochNanos() - utc.epochNanos()).toBe(0n);
  });

  it('a monotonic clock that misbehaves cannot move UTC back', () => {
    let mono = 10n * S;
    const wall = new ManualClock(0n, 5_000n * S);
    const utc = new MonotonicUtcClock({ nanoTime: () => mono }, wall);
    const first = utc.epochNanos();
    mono -= S;
    expect(utc.epochNanos() >= first).toBe(true);
  });
});
