/**
 * What a request handler gets besides the request: the session it came in, the list its data
 * messages go into, and a way to answer later. Most requests are answered when the handler
 * returns; a start recording (the source binds asynchronously) or a replay (its sockets get
 * their multicast options asynchronously) take a DeferredAnswer and complete it when they know.
 */
import type { ControlSession } from './control-session.js';
import type { ResponseEncoder } from './control-response-proxy.js';

export interface Answer {
  data: Buffer[];
}

/** The final response to a request, given later; exactly one of ok/error, at most once. */
export interface DeferredAnswer {
  /** The final OK, after the data messages `data` (sent first, counted in dataCount). */
  ok(relevantId: number, data?: Buffer[]): void;
  error(code: number, message: string): void;
}

export interface RequestContext {
  session: ControlSession;
  answer: Answer;
  /** Marks the request pending (a retry meanwhile is not executed again) and returns its answer. */
  defer(): DeferredAnswer;
  /** Encodes the answer's data messages; absent: the control protocol's SBE proxy. */
  responses?: ResponseEncoder;
}

/** A DeferredAnswer nobody waits for (recordings the config starts). */
export const NO_ANSWER: DeferredAnswer = {
  ok() {},
  error() {},
};
