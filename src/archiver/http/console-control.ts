/**
 * The console's way into the archiver: requests are the control protocol's (SessionRequest),
 * queued here and run by the conductor in its duty cycle through the same handlers as a
 * datagram's (ArchiverConductor LocalRequests), in one session of the console's own, answered
 * in JSON (JsonResponses). The HTTP side only enqueues and wakes the conductor; nothing here
 * touches storage.
 */
import type { LocalRequest, LocalRequests } from '../archiver-conductor.js';
import type { SessionRequest } from '../control-requests.js';
import type { ControlSession } from '../control-session.js';
import { ErrorCode, VcrError, type ErrorCodeValue } from '../../util/errors.js';
import { JsonResponses, type JsonMessage } from './json-responses.js';

/** A request without the ids the console fills in. */
export type ConsoleRequest = SessionRequest extends infer R ? (R extends SessionRequest ? Omit<R, 'controlSessionId' | 'correlationId'> : never) : never;

export interface ConsoleAnswer {
  relevantId: number;
  data: JsonMessage[];
}

/** Bounded: a flood of HTTP requests waits in the HTTP server, not in memory here. */
const MAX_QUEUED = 1024;

export class ConsoleControl implements LocalRequests {
  private readonly queue: LocalRequest[] = [];
  private readonly responses = new JsonResponses();
  private nextCorrelationId = 1n;

  constructor(
    private readonly session: ControlSession,
    private readonly wake: () => void,
  ) {}

  get sessionId(): number {
    return this.session.sessionId;
  }

  /** Runs one request through the control handlers; rejects with the VcrError it was answered with. */
  request(r: ConsoleRequest): Promise<ConsoleAnswer> {
    if (this.queue.length >= MAX_QUEUED) return Promise.reject(new VcrError(ErrorCode.NOT_READY, 'the console has too many requests in progress'));
    return new Promise((resolve, reject) => {
      const request = { ...r, controlSessionId: this.session.sessionId, correlationId: this.nextCorrelationId++ } as SessionRequest;
      this.queue.push({
        session: this.session,
        request,
        responses: this.responses,
        reply: (datagrams) => {
          const messages = datagrams.map((d) => JSON.parse(d.toString('utf8')) as JsonMessage);
          const final = messages.pop();
          if (final?.kind === 'ok') resolve({ relevantId: final.relevantId as number, data: messages });
          else if (final?.kind === 'error') reject(new VcrError(final.errorCode as ErrorCodeValue, final.message as string));
          else reject(new VcrError(ErrorCode.GENERIC, 'the request was answered without a final response'));
        },
      });
      this.wake();
    });
  }

  poll(run: (job: LocalRequest) => void, limit: number): number {
    let n = 0;
    while (n < limit && this.queue.length > 0) {
      run(this.queue.shift()!);
      n++;
    }
    return n;
  }
}
