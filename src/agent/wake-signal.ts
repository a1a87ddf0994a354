/**
 * The "there is work" signal between I/O callbacks and an AgentRunner. Producers (a socket's
 * message callback, a source's read callback) are created before the runner that runs their
 * consumer, so they cannot hold the runner itself; they hold this signal, and the runner
 * listens to it. Signalling only schedules (it cuts a park short); it never does work.
 */
export class WakeSignal {
  private listener: (() => void) | undefined;
  /** Signals raised while nobody listened (tests and stats read it). */
  missed = 0;

  /** Called by producers; cheap, safe to call often. */
  readonly signal = (): void => {
    if (this.listener) this.listener();
    else this.missed++;
  };

  /** The runner subscribes here (one listener: the runner of the consuming agent). */
  listen(listener: () => void): void {
    if (this.listener && this.listener !== listener) throw new Error('WakeSignal already has a listener');
    this.listener = listener;
  }

  unlisten(): void {
    this.listener = undefined;
  }
}
