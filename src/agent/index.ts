export type { Agent, Session, ErrorHandler } from './agent.js';
export {
  BackoffIdleStrategy,
  BackoffState,
  IDLE_SPIN,
  IDLE_YIELD,
  NoOpIdleStrategy,
  SleepingIdleStrategy,
  type BackoffOptions,
  type IdleDecision,
  type IdleStrategy,
} from './idle-strategy.js';
export { ManualScheduler, systemScheduler, type ManualTask, type ScheduledTask, type Scheduler } from './scheduler.js';
export { AgentRunner, AgentRunnerState, type AgentRunnerOptions } from './agent-runner.js';
export { SessionWorker, type SessionWorkerOptions } from './session-worker.js';
export { CompositeAgent } from './composite-agent.js';
export { WakeSignal } from './wake-signal.js';
