import { describe, expect, it } from 'vitest';
import { CompositeAgent, SessionWorker, type Agent, type Session } from '../../src/agent/index.js';

class CountdownSession implements Session {
  state = 'ACTIVE';
  closed = 0;
  steps = 0;
  constructor(
    readonly sessionId: number,
    private remaining: number,
    private readonly failAt = -1,
  ) {}
  doWork(): number {
    this.steps++;
    if (this.steps === this.failAt) throw new Error(`session ${this.sessionId} failed`);
    if (this.remaining === 0) return 0;
    this.remaining--;
    if (this.remaining === 0) this.state = 'DONE';
    return 1;
  }
  isDone(): boolean {
    return this.state === 'DONE';
  }
  close(): void {
    this.closed++;
    this.state = 'CLOSED';
  }
}

describe('SessionWorker', () => {
  it('steps sessions, closes and removes done ones', () => {
    const closed: number[] = [];
    const w = new SessionWorker<CountdownSession>('worker', { onSessionClosed: (s) => closed.push(s.sessionId) });
    const a = new CountdownSession(1, 1);
    const b = new CountdownSession(2, 3);
    w.add(a);
    w.add(b);
    expect(w.doWork()).toBeGreaterThanOrEqual(2);
    expect(closed).toEqual([1]);
    expect(a.closed).toBe(1);
    expect(w.size).toBe(1);
    w.doWork();
    w.doWork();
    expect(closed).toEqual([1, 2]);
    expect(w.size).toBe(0);
    expect(b.closed).toBe(1);
  });

  it('a failing session is closed and reported; the others keep running', () => {
    const errors: [number, string][] = [];
    const w = new SessionWorker<CountdownSession>('worker', {
      onSessionError: (s, e) => errors.push([s.sessionId, (e as Error).message]),
    });
    const bad = new CountdownSession(1, 10, 2);
    const good = new CountdownSession(2, 5);
    w.add(bad);
    w.add(good);
    w.doWork();
    w.doWork();
    expect(errors).toEqual([[1, 'session 1 failed']]);
    expect(bad.closed).toBe(1);
    expect(w.find(1)).toBeUndefined();
    for (let i = 0; i < 5; i++) w.doWork();
    expect(good.steps).toBe(5);
    expect(good.closed).toBe(1);
  });

  it('abort works from inside a session, sessions added during a cycle run next cycle, onClose closes all', () => {
    const w = new SessionWorker<Session>('worker');
    const late = new CountdownSession(9, 5);
    const victim = new CountdownSession(3, 5);
    const killer: Session = {
      sessionId: 1,
      doWork: () => {
        w.abort(3);
        if (!w.find(9)) w.add(late);
        return 1;
      },
      isDone: () => false,
      close: () => {},
    };
    w.add(killer);
    w.add(victim);
    w.doWork();
    expect(victim.steps).toBe(0);
    expect(victim.closed).toBe(1);
    expect(late.steps).toBe(0);
    expect(w.sessions.map((s) => s.sessionId)).toEqual([1, 9]);
    w.doWork();
    expect(late.steps).toBe(1);
    w.onClose();
    expect(late.closed).toBe(1);
    expect(w.size).toBe(0);
    expect(() => w.add(new CountdownSession(5, 1))).toThrow();
  });
});

describe('CompositeAgent', () => {
  it('runs every agent each cycle even when one throws, then rethrows the first error', () => {
    const calls: string[] = [];
    const mk = (name: string, fail = false): Agent => ({
      roleName: name,
      doWork: () => {
        calls.push(name);
        if (fail) throw new Error(name);
        return 2;
      },
      onClose: () => calls.push(`close-${name}`),
    });
    const c = new CompositeAgent([mk('a', true), mk('b')]);
    expect(c.roleName).toBe('[a,b]');
    expect(() => c.doWork()).toThrow('a');
    expect(calls).toEqual(['a', 'b']);
    const ok = new CompositeAgent([mk('x'), mk('y')]);
    expect(ok.doWork()).toBe(4);
    ok.onClose();
    expect(calls.slice(-2)).toEqual(['close-x', 'close-y']);
  });
});
