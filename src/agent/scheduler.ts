/**
 * How an AgentRunner hands control back to Node's event loop. Injected so tests can run the
 * runner's loop deterministically (ManualScheduler) instead of depending on real timers.
 */
export interface ScheduledTask {
  readonly kind: 'immediate' | 'timeout';
}

export interface Scheduler {
  /** Run fn after pending I/O callbacks (setImmediate). */
  immediate(fn: () => void): ScheduledTask;
  /** Run fn after at least delayMs milliseconds (setTimeout). */
  timeout(fn: () => void, delayMs: number): ScheduledTask;
  cancel(task: ScheduledTask): void;
}

interface SystemTask extends ScheduledTask {
  readonly handle: NodeJS.Immediate | NodeJS.Timeout;
}

export const systemScheduler: Scheduler = {
  immediate(fn) {
    const t: SystemTask = { kind: 'immediate', handle: setImmediate(fn) };
    return t;
  },
  timeout(fn, delayMs) {
    const t: SystemTask = { kind: 'timeout', handle: setTimeout(fn, delayMs) };
    return t;
  },
  cancel(task) {
    const t = task as SystemTask;
    if (t.kind === 'immediate') clearImmediate(t.handle as NodeJS.Immediate);
    else clearTimeout(t.handle as NodeJS.Timeout);
  },
};

export interface ManualTask extends ScheduledTask {
  readonly fn: () => void;
  readonly delayMs: number;
  cancelled: boolean;
}

/** A scheduler for tests: tasks wait in a list until the test runs them. */
export class ManualScheduler implements Scheduler {
  private readonly queue: ManualTask[] = [];

  immediate(fn: () => void): ScheduledTask {
    const t: ManualTask = { kind: 'immediate', fn, delayMs: 0, cancelled: false };
    this.queue.push(t);
    return t;
  }

  timeout(fn: () => void, delayMs: number): ScheduledTask {
    const t: ManualTask = { kind: 'timeout', fn, delayMs, cancelled: false };
    this.queue.push(t);
    return t;
  }

  cancel(task: ScheduledTask): void {
    (task as ManualTask).cancelled = true;
  }

  /** Tasks scheduled and not yet run or cancelled, oldest first. */
  get pending(): readonly ManualTask[] {
    return this.queue.filter((t) => !t.cancelled);
  }

  /** Run the oldest pending task; returns it, or undefined if none. */
  runNext(): ManualTask | undefined {
    while (this.queue.length > 0) {
      const t = this.queue.shift()!;
      if (t.cancelled) continue;
      t.fn();
      return t;
    }
    return undefined;
  }
}
