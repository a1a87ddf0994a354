/**
 * Runs an Agent on Node's single thread. A "slice" calls doWork() repeatedly while it reports
 * work, for at most timeSliceNs, then returns to the event loop so socket and file callbacks
 * (which only enqueue) can run. When a cycle does no work the idle strategy decides: spin
 * (call again now), yield (setImmediate) or park (setTimeout). wake() cuts a park short, so a
 * source whose callback has just enqueued data can get it polled promptly.
 *
 * Errors thrown by doWork() go to the error handler and the runner keeps going (the failing
 * cycle counts as idle, so a persistent error backs off instead of burning the CPU).
 */
import type { Agent, ErrorHandler } from './agent.js';
import { BackoffIdleStrategy, IDLE_SPIN, IDLE_YIELD, type IdleStrategy } from './idle-strategy.js';
import { systemScheduler, type ScheduledTask, type Scheduler } from './scheduler.js';
import { systemNanoClock, type NanoClock } from '../util/clock.js';
import type { WakeSignal } from './wake-signal.js';

export const AgentRunnerState = {
  INIT: 'INIT',
  RUNNING: 'RUNNING',
  CLOSING: 'CLOSING',
  CLOSED: 'CLOSED',
} as const;
export type AgentRunnerState = (typeof AgentRunnerState)[keyof typeof AgentRunnerState];

export interface AgentRunnerOptions {
  idleStrategy?: IdleStrategy;
  /** Receives errors from onStart/doWork/onClose. Default: print to stderr. */
  errorHandler?: ErrorHandler;
  clock?: NanoClock;
  scheduler?: Scheduler;
  /** Longest time a slice keeps the event loop busy while there is work. Default 5 ms. */
  timeSliceNs?: number;
  /** Producers raise this signal when they enqueued work; the runner wakes up (see wake()). */
  wakeSignal?: WakeSignal;
}

const defaultErrorHandler: ErrorHandler = (error, source) => {
  process.stderr.write(`[${source}] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
};

export class AgentRunner {
  readonly idleStrategy: IdleStrategy;
  private readonly errorHandler: ErrorHandler;
  private readonly clock: NanoClock;
  private readonly scheduler: Scheduler;
  private readonly timeSliceNs: bigint;
  private readonly wakeSignal: WakeSignal | undefined;
  private stateValue: AgentRunnerState = AgentRunnerState.INIT;
  private scheduled: ScheduledTask | undefined;
  private parked = false;
  private inSlice = false;
  private closePromise: Promise<void> | undefined;
  private resolveClose: (() => void) | undefined;
  /** Totals for stats and tests. */
  totalWork = 0;
  dutyCycles = 0;
  errors = 0;

  constructor(
    readonly agent: Agent,
    options: AgentRunnerOptions = {},
  ) {
    this.idleStrategy = options.idleStrategy ?? new BackoffIdleStrategy();
    this.errorHandler = options.errorHandler ?? defaultErrorHandler;
    this.clock = options.clock ?? systemNanoClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.timeSliceNs = BigInt(Math.max(1, Math.round(options.timeSliceNs ?? 5_000_000)));
    this.wakeSignal = options.wakeSignal;
    this.wakeSignal?.listen(() => this.wake());
  }

  get state(): AgentRunnerState {
    return this.stateValue;
  }

  get isRunning(): boolean {
    return this.stateValue === AgentRunnerState.RUNNING;
  }

  get isParked(): boolean {
    return this.parked;
  }

  /** Calls agent.onStart() and schedules the first slice. */
  start(): void {
    if (this.stateValue !== AgentRunnerState.INIT) throw new Error(`${this.agent.roleName}: runner already started`);
    this.stateValue = AgentRunnerState.RUNNING;
    if (this.agent.onStart) {
      try {
        this.agent.onStart();
      } catch (e) {
        this.report(e);
      }
    }
    this.schedule(IDLE_YIELD);
  }

  /** Cut a park short: run a slice at the next event-loop turn. Cheap; safe to call often. */
  wake(): void {
    if (this.stateValue !== AgentRunnerState.RUNNING || !this.parked) return;
    if (this.scheduled) this.scheduler.cancel(this.scheduled);
    this.scheduled = undefined;
    this.parked = false;
    this.idleStrategy.reset();
    this.schedule(IDLE_YIELD);
  }

  /**
   * Stop scheduling and call agent.onClose() once. If called from inside doWork() the close
   * happens when the current cycle returns. Resolves when onClose has run.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = new Promise<void>((resolve) => (this.resolveClose = resolve));
    this.stateValue = AgentRunnerState.CLOSING;
    if (this.scheduled) this.scheduler.cancel(this.scheduled);
    this.scheduled = undefined;
    this.parked = false;
    if (!this.inSlice) this.finishClose();
    return this.closePromise;
  }

  /**
   * One slice: duty cycles while there is work, bounded by the time slice; idle cycles spin
   * as the idle strategy says. Returns the work done and the idle decision for what follows.
   * Public so tests (and embedders with their own loop) can step it.
   */
  runSlice(): { work: number; next: number } {
    this.inSlice = true;
    let work = 0;
    let next: number = IDLE_YIELD;
    try {
      const deadline = this.clock.nanoTime() + this.timeSliceNs;
      for (;;) {
        const w = this.cycle();
        work += w;
        if (this.stateValue !== AgentRunnerState.RUNNING) break;
        if (w > 0) {
          this.idleStrategy.reset();
          next = IDLE_YIELD;
          if (this.clock.nanoTime() >= deadline) break;
          continue;
        }
        next = this.idleStrategy.idle(0);
        if (next !== IDLE_SPIN) break;
        if (this.clock.nanoTime() >= deadline) {
          next = IDLE_YIELD;
          break;
        }
      }
    } finally {
      this.inSlice = false;
    }
    if (this.stateValue === AgentRunnerState.CLOSING) this.finishClose();
    return { work, next };
  }

  private cycle(): number {
    this.dutyCycles++;
    try {
      const w = this.agent.doWork();
      if (w > 0) this.totalWork += w;
      return w > 0 ? w : 0;
    } catch (e) {
      this.report(e);
      return 0;
    }
  }

  private readonly onScheduled = (): void => {
    this.scheduled = undefined;
    this.parked = false;
    if (this.stateValue !== AgentRunnerState.RUNNING) return;
    const { next } = this.runSlice();
    if (this.stateValue === AgentRunnerState.RUNNING) this.schedule(next);
  };

  private schedule(decision: number): void {
    if (decision > 0) {
      this.parked = true;
      this.scheduled = this.scheduler.timeout(this.onScheduled, Math.max(1, Math.ceil(decision / 1e6)));
    } else {
      this.scheduled = this.scheduler.immediate(this.onScheduled);
    }
  }

  private finishClose(): void {
    if (this.stateValue === AgentRunnerState.CLOSED) return;
    this.stateValue = AgentRunnerState.CLOSED;
    this.wakeSignal?.unlisten();
    try {
      this.agent.onClose();
    } catch (e) {
      this.report(e);
    }
    this.resolveClose?.();
  }

  private report(e: unknown): void {
    this.errors++;
    try {
      this.errorHandler(e, this.agent.roleName);
    } catch {
      // an error handler that throws must not stop the runner
    }
  }
}
