/**
 * The small services every part of the archiver's logic is handed: its clocks and its log.
 * Injected (never global) so the conductor, the managers and the sessions run under a manual
 * clock in tests and log nowhere unless asked.
 */

export interface ArchiverClock {
  /** Monotonic ns. */
  nanoTime(): bigint;
  /** UTC ns, never backwards. */
  epochNanos(): bigint;
}

export interface ArchiverLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
