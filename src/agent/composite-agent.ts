/**
 * Several agents run as one (e.g. conductor + recorder + replayer on one runner). Every agent
 * gets its doWork() each cycle even if an earlier one threw; the first error is rethrown after
 * the cycle so the runner reports it. onClose closes all, likewise.
 */
import type { Agent } from './agent.js';

export class CompositeAgent implements Agent {
  readonly roleName: string;
  private readonly agents: readonly Agent[];

  constructor(agents: readonly Agent[], roleName?: string) {
    if (agents.length === 0) throw new RangeError('CompositeAgent needs at least one agent');
    this.agents = [...agents];
    this.roleName = roleName ?? `[${agents.map((a) => a.roleName).join(',')}]`;
  }

  onStart(): void {
    this.each((a) => a.onStart?.());
  }

  doWork(): number {
    let work = 0;
    let firstError: unknown;
    let failed = false;
    for (const a of this.agents) {
      try {
        work += a.doWork();
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
        }
      }
    }
    if (failed) throw firstError;
    return work;
  }

  onClose(): void {
    this.each((a) => a.onClose());
  }

  private each(fn: (a: Agent) => void): void {
    let firstError: unknown;
    let failed = false;
    for (const a of this.agents) {
      try {
        fn(a);
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
        }
      }
    }
    if (failed) throw firstError;
  }
}
