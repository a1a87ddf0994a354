/**
 * The unit of work of the duty-cycle model (after Agrona's Agent): something that is called
 * repeatedly by a runner and reports how much work it did, so the runner can back off when
 * there is nothing to do. doWork() must never block; I/O callbacks elsewhere only enqueue and
 * the agent drains those queues here.
 */
export interface Agent {
  /** Name used in logs and error reports. */
  readonly roleName: string;
  /** Called once by the runner before the first doWork(). */
  onStart?(): void;
  /** Do a bounded amount of work; return how much was done (0 = idle). */
  doWork(): number;
  /** Called once when the runner closes; release resources here. */
  onClose(): void;
}

/**
 * A long operation run by an agent (a recording, a replay, a control session). It has an
 * explicit state (exposed as `state` for stats and tests), is stepped by doWork(), reports when
 * it is done, and releases its resources in close() (which must be idempotent).
 */
export interface Session {
  readonly sessionId: number;
  readonly state?: string;
  doWork(): number;
  isDone(): boolean;
  close(): void;
}

export type ErrorHandler = (error: unknown, source: string) => void;
