/**
 * An agent that steps a list of sessions (recordings, replays, control sessions). Each
 * session runs in its own try/catch: a session that throws is closed and removed, the error
 * is reported through onSessionError, and the other sessions carry on. Sessions that report
 * isDone() are closed and removed. Sessions may be added from inside a session's doWork();
 * they are stepped from the next cycle.
 */
import type { Agent, Session } from './agent.js';

export interface SessionWorkerOptions<S extends Session> {
  /** A session threw from doWork()/isDone(); it has been closed and removed. */
  onSessionError?: (session: S, error: unknown) => void;
  /** A session finished (done or failed) and has been closed and removed. */
  onSessionClosed?: (session: S) => void;
}

export class SessionWorker<S extends Session> implements Agent {
  /** May hold holes (undefined) between an abort/finish and the compaction after a cycle. */
  private list: (S | undefined)[] = [];
  private holes = 0;
  private iterating = false;
  private readonly onSessionError: ((session: S, error: unknown) => void) | undefined;
  private readonly onSessionClosed: ((session: S) => void) | undefined;
  private closed = false;

  constructor(
    readonly roleName: string,
    options: SessionWorkerOptions<S> = {},
  ) {
    this.onSessionError = options.onSessionError;
    this.onSessionClosed = options.onSessionClosed;
  }

  add(session: S): void {
    if (this.closed) {
      this.safeClose(session);
      throw new Error(`${this.roleName}: worker is closed`);
    }
    this.list.push(session);
  }

  find(sessionId: number): S | undefined {
    return this.list.find((s) => s !== undefined && s.sessionId === sessionId);
  }

  /** Close and remove one session now (also safe from inside a session's doWork). */
  abort(sessionId: number): boolean {
    const i = this.list.findIndex((s) => s !== undefined && s.sessionId === sessionId);
    if (i < 0) return false;
    const s = this.list[i]!;
    this.list[i] = undefined;
    this.holes++;
    this.finish(s);
    this.compactIfIdle();
    return true;
  }

  /** Calls fn for each session (no array is built: cheap enough for every duty cycle). */
  forEach(fn: (session: S) => void): void {
    for (const s of this.list) if (s !== undefined) fn(s);
  }

  get sessions(): readonly S[] {
    return this.list.filter((s): s is S => s !== undefined);
  }

  get size(): number {
    return this.list.length - this.holes;
  }

  private compactIfIdle(): void {
    if (!this.iterating && this.holes > 0) {
      this.list = this.list.filter((s) => s !== undefined);
      this.holes = 0;
    }
  }

  doWork(): number {
    const current = this.list;
    const n = current.length;
    let work = 0;
    this.iterating = true;
    try {
      for (let i = 0; i < n; i++) {
        const s = current[i];
        if (s === undefined) continue;
        work += this.step(current, i, s);
      }
    } finally {
      this.iterating = false;
    }
    this.compactIfIdle();
    return work;
  }

  private step(current: (S | undefined)[], i: number, s: S): number {
    let work = 0;
    let drop = false;
    try {
      work = s.doWork();
      drop = s.isDone();
    } catch (e) {
      drop = true;
      if (this.onSessionError) {
        try {
          this.onSessionError(s, e);
        } catch {
          // reporting must not take other sessions down
        }
      }
    }
    // current[i] !== s when the session aborted itself (already closed and removed)
    if (drop && current[i] === s) {
      current[i] = undefined;
      this.holes++;
      this.finish(s);
      work++;
    }
    return work;
  }

  /** Closes every session. */
  onClose(): void {
    this.closed = true;
    const all = this.list;
    this.list = [];
    this.holes = 0;
    for (const s of all) if (s !== undefined) this.finish(s);
  }

  private finish(s: S): void {
    this.safeClose(s);
    if (this.onSessionClosed) {
      try {
        this.onSessionClosed(s);
      } catch {
        // reporting must not take other sessions down
      }
    }
  }

  private safeClose(s: S): void {
    try {
      s.close();
    } catch (e) {
      if (this.onSessionError) {
        try {
          this.onSessionError(s, e);
        } catch {
          // ignore
        }
      }
    }
  }
}
