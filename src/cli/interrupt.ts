/**
 * Ctrl-C (SIGINT) and SIGTERM, the same for every command: the first signal runs the cleanups
 * the running command registered, newest first (stop the replay it started, close its control
 * session, stop the archiver), and the command then ends with status 128 + the signal's number
 * (130 for SIGINT, 143 for SIGTERM), as shells report a command a signal ended. With nothing
 * to clean up the process ends at once; a command that has not ended graceMs after the signal,
 * or a second signal, ends it at once too.
 */

export type Cleanup = () => void | Promise<void>;

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

export class Interrupts {
  private receivedSignal: NodeJS.Signals | undefined;
  private readonly cleanups: Cleanup[] = [];
  private installed = false;

  constructor(
    private readonly graceMs = 10_000,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** The signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.receivedSignal;
  }

  /** 128 + the signal's number once a signal came, else undefined. */
  get exitCode(): number | undefined {
    return this.receivedSignal === undefined ? undefined : 128 + (SIGNAL_NUMBERS[this.receivedSignal] ?? 0);
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** Registers a cleanup to run on the first signal; returns the function that removes it. */
  onInterrupt(cleanup: Cleanup): () => void {
    this.cleanups.push(cleanup);
    return () => {
      const i = this.cleanups.lastIndexOf(cleanup);
      if (i >= 0) this.cleanups.splice(i, 1);
    };
  }

  /** Resolves when a signal has come and the cleanups have run (for commands that run until stopped). */
  untilInterrupted(): Promise<NodeJS.Signals> {
    return new Promise((resolve) => {
      const off = this.onInterrupt(() => {
        off();
        resolve(this.receivedSignal!);
      });
    });
  }

  /** Handles a signal as if it had been received (the handler; tests call it directly). */
  readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.receivedSignal !== undefined) {
      this.exit(this.exitCode!);
      return;
    }
    this.receivedSignal = signal;
    const code = this.exitCode!;
    if (this.cleanups.length === 0) {
      this.exit(code);
      return;
    }
    setTimeout(() => this.exit(code), this.graceMs).unref();
    void this.runCleanups();
  };

  private async runCleanups(): Promise<void> {
    while (this.cleanups.length > 0) {
      const cleanup = this.cleanups.pop()!;
      try {
        await cleanup();
      } catch {
        // best effort: the next cleanup still runs
      }
    }
  }
}

/** The process's interrupt handling (main installs it). */
export const interrupts = new Interrupts();
