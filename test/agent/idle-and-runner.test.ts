import { describe, expect, it } from 'vitest';
import {
  AgentRunner,
  AgentRunnerState,
  BackoffIdleStrategy,
  BackoffState,
  IDLE_SPIN,
  IDLE_YIELD,
  ManualScheduler,
  NoOpIdleStrategy,
  SleepingIdleStrategy,
  type Agent,
} from '../../src/agent/index.js';
import { ManualClock } from '../../src/util/clock.js';

describe('idle strategies', () => {
  it('backoff spins, then yields, then parks with doubling periods up to the max', () => {
    const s = new BackoffIdleStrategy({ maxSpins: 2, maxYields: 2, minParkPeriodNs: 1_000_000, maxParkPeriodNs: 5_000_000 });
    const seq = Array.from({ length: 8 }, () => s.idle(0));
    expect(seq).toEqual([IDLE_SPIN, IDLE_SPIN, IDLE_YIELD, IDLE_YIELD, 1_000_000, 2_000_000, 4_000_000, 5_000_000]);
    expect(s.state).toBe(BackoffState.PARKING);
  });

  it('backoff resets only when work was done', () => {
    const s = new BackoffIdleStrategy({ maxSpins: 1, maxYields: 1 });
    s.idle(0);
    s.idle(0);
    expect(s.idle(0)).toBeGreaterThan(0);
    expect(s.idle(3)).toBe(IDLE_YIELD);
    expect(s.state).toBe(BackoffState.NOT_IDLE);
    expect(s.idle(0)).toBe(IDLE_SPIN);
  });

  it('noop always yields; sleeping parks a fixed period when idle', () => {
    expect(new NoOpIdleStrategy().idle(0)).toBe(IDLE_YIELD);
    const s = new SleepingIdleStrategy(3_000_000);
    expect(s.idle(0)).toBe(3_000_000);
    expect(s.idle(1)).toBe(IDLE_YIELD);
    expect(() => new BackoffIdleStrategy({ minParkPeriodNs: 10, maxParkPeriodNs: 5 })).toThrow(RangeError);
  });
});

/** An agent whose work comes from a queue the test fills; doWork costs 1 ms of manual time. */
class QueueAgent implements Agent {
  readonly roleName = 'queue';
  queue: number[] = [];
  done: number[] = [];
  closed = 0;
  started = 0;
  failNext = false;
  constructor(private readonly clock?: ManualClock) {}
  onStart(): void {
    this.started++;
  }
  doWork(): number {
    this.clock?.advanceMs(1);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('boom');
    }
    const v = this.queue.shift();
    if (v === undefined) return 0;
    this.done.push(v);
    return 1;
  }
  onClose(): void {
    this.closed++;
  }
}

describe('AgentRunner', () => {
  it('runs doWork while there is work, bounded by the time slice, then yields', () => {
    const clock = new ManualClock();
    const scheduler = new ManualScheduler();
    const agent = new QueueAgent(clock);
    agent.queue = Array.from({ length: 20 }, (_, i) => i);
    const runner = new AgentRunner(agent, { clock, scheduler, timeSliceNs: 5_000_000, idleStrategy: new NoOpIdleStrategy() });
    runner.start();
    expect(agent.started).toBe(1);
    expect(scheduler.pending.map((t) => t.kind)).toEqual(['immediate']);
    scheduler.runNext();
    // 1 ms per cycle, 5 ms slice: 5 cycles ran, then the event loop got a turn.
    expect(agent.done).toEqual([0, 1, 2, 3, 4]);
    expect(scheduler.pending.map((t) => t.kind)).toEqual(['immediate']);
    while (agent.done.length < 20) scheduler.runNext();
    expect(agent.done.length).toBe(20);
    expect(runner.totalWork).toBe(20);
  });

  it('backs off to parking when idle and wake() cuts the park short', () => {
    const clock = new ManualClock();
    const scheduler = new ManualScheduler();
    const agent = new QueueAgent();
    const idle = new BackoffIdleStrategy({ maxSpins: 3, maxYields: 2, minParkPeriodNs: 2_000_000, maxParkPeriodNs: 8_000_000 });
    const runner = new AgentRunner(agent, { clock, scheduler, idleStrategy: idle });
    runner.start();
    scheduler.runNext(); // spins 3 times inside the slice, then yields
    expect(runner.dutyCycles).toBe(4);
    scheduler.runNext(); // yield 2
    scheduler.runNext(); // now parks
    const parked = scheduler.pending[0]!;
    expect(parked.kind).toBe('timeout');
    expect(parked.delayMs).toBe(2);
    expect(runner.isParked).toBe(true);
    scheduler.runNext();
    expect(scheduler.pending[0]!.delayMs).toBe(4);
    agent.queue.push(7);
    runner.wake();
    expect(scheduler.pending.map((t) => t.kind)).toEqual(['immediate']);
    scheduler.runNext();
    expect(agent.done).toEqual([7]);
    expect(idle.state).not.toBe(BackoffState.PARKING);
  });

  it('reports doWork errors to the handler and keeps running', () => {
    const clock = new ManualClock();
    const scheduler = new ManualScheduler();
    const agent = new QueueAgent();
    const errors: unknown[] = [];
    const runner = new AgentRunner(agent, {
      clock,
      scheduler,
      idleStrategy: new NoOpIdleStrategy(),
      errorHandler: (e, role) => errors.push([(e as Error).message, role]),
    });
    runner.start();
    agent.failNext = true;
    agent.queue.push(1, 2);
    scheduler.runNext();
    expect(errors).toEqual([['boom', 'queue']]);
    expect(runner.state).toBe(AgentRunnerState.RUNNING);
    scheduler.runNext();
    expect(agent.done).toEqual([1, 2]);
    expect(runner.errors).toBe(1);
  });

  it('closes once, cancels what was scheduled, and defers a close requested from doWork', async () => {
    const scheduler = new ManualScheduler();
    const agent = new QueueAgent();
    const runner = new AgentRunner(agent, { clock: new ManualClock(), scheduler });
    runner.start();
    await runner.close();
    await runner.close();
    expect(agent.closed).toBe(1);
    expect(scheduler.pending.length).toBe(0);
    expect(runner.state).toBe(AgentRunnerState.CLOSED);

    const scheduler2 = new ManualScheduler();
    let runner2: AgentRunner | undefined;
    let closedDuringWork = -1;
    const self: Agent = {
      roleName: 'self',
      doWork: () => {
        void runner2!.close();
        closedDuringWork = agent2closed;
        return 1;
      },
      onClose: () => {
        agent2closed++;
      },
    };
    let agent2closed = 0;
    runner2 = new AgentRunner(self, { clock: new ManualClock(), scheduler: scheduler2 });
    runner2.start();
    scheduler2.runNext();
    expect(closedDuringWork).toBe(0);
    expect(agent2closed).toBe(1);
    expect(scheduler2.pending.length).toBe(0);
  });

  it('runs on the real event loop and lets I/O callbacks in between slices', async () => {
    const agent = new QueueAgent();
    const runner = new AgentRunner(agent, { idleStrategy: new BackoffIdleStrategy({ maxParkPeriodNs: 1_000_000 }) });
    runner.start();
    // Work arrives from event-loop callbacks while the runner is running.
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((r) => setImmediate(r));
      agent.queue.push(i);
      runner.wake();
    }
    while (agent.done.length < 5) await new Promise<void>((r) => setImmediate(r));
    await runner.close();
    expect(agent.done).toEqual([0, 1, 2, 3, 4]);
    expect(agent.closed).toBe(1);
  });
});
