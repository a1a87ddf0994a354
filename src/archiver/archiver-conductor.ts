/**
 * The archiver's single duty-cycle agent and the control session protocol. Each doWork()
 * decodes what the control transport queued (ControlAdapter, which calls back onRequest /
 * onMalformed), steps the recordings and the replays (each a SessionWorker of sessions, in
 * RecordingManager / ReplayManager), and every 100 ms closes control sessions that timed out
 * and runs the archive's housekeeping.
 *
 * The session protocol lives here: connect (ControlSessions decides who gets in), requests
 * accepted only from the address their session belongs to, exactly one final response per
 * request, answers cached per session so a retried correlationId is answered from the cache
 * and not executed twice, and a correlationId reused for a different request refused. What each
 * request does is in RequestHandlers, which sees recordings and replays only through
 * RecordingOps / ReplayOps.
 */
import type { ArchiveTierOps } from './archive-scheduler.js';
import type { Agent } from '../agent/agent.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import type { ArchiverConfig } from './archiver-config.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverClock, ArchiverLog } from './archiver-services.js';
import { ControlAdapter, type ControlRequestHandler, type InboundDatagrams, type RequestSource } from './control-adapter.js';
import { IDEMPOTENT_REQUESTS, type ConnectRequest, type ControlRequest, type SessionRequest } from './control-requests.js';
import type { ControlResponseProxy, ResponseEncoder } from './control-response-proxy.js';
import type { ControlSession } from './control-session.js';
import { ControlSessions } from './control-sessions.js';
import { checkNotOwnEndpoint, type BoundAddress } from './destination-checks.js';
import type { NotificationProxy } from './notification-proxy.js';
import type { ArchiveStore, SourceFactory } from './ports.js';
import { RecordingManager } from './recording-manager.js';
import { ReplayManager } from './replay-manager.js';
import type { ReplaySender } from './replay-session.js';
import type { DeferredAnswer, RequestContext } from './request-context.js';
import { RequestHandlers } from './request-handlers.js';
import type { RetentionManager } from './retention-manager.js';
import { StreamManager } from './stream-manager.js';
import type { TransportServer } from '../transport/transport-server.js';
import { parseUdpEndpoint, type DatagramSender, type UdpEndpoint } from './udp-endpoint.js';

export interface ConductorDeps {
  config: ArchiverConfig;
  store: ArchiveStore;
  sources: SourceFactory;
  /** The control sessions (NotificationProxy reads the subscribers from the same table). */
  sessions: ControlSessions;
  /** Sends control responses (the control transport). */
  sender: DatagramSender;
  /** Queued inbound control datagrams (the control transport); absent in pure tests. */
  inbound?: InboundDatagrams;
  /** The bound control endpoint (nothing may be sent there). */
  controlAddress?: () => BoundAddress | undefined;
  responses: ControlResponseProxy;
  notifications: NotificationProxy;
  counters: ArchiverCounters;
  clock: ArchiverClock;
  log: ArchiverLog;
  createReplaySender: (ep: UdpEndpoint) => ReplaySender;
  /** The stream endpoint, listening (streamed replays); absent: StreamReplayRequest is refused. */
  streamServer?: TransportServer;
  /** Requests from inside the process (the HTTP console); absent: none. */
  local?: LocalRequests;
  /** Retention passes, stepped on this duty cycle; absent: retention requests are refused. */
  retention?: RetentionManager;
  /** The archive tier's passes and status (archive-scheduler.ts). */
  archiveTier?: ArchiveTierOps;
}

const SESSION_CHECK_INTERVAL_NS = 100_000_000n;

/**
 * A request made inside this process (the HTTP console, src/archiver/http): it runs through the
 * same handlers as a datagram's, in a session of its own (outside the session table: never
 * timed out or evicted), and its answer is encoded by `responses` and handed to `reply`.
 */
export interface LocalRequest {
  session: ControlSession;
  request: SessionRequest;
  responses: ResponseEncoder;
  /** The answer: data messages, then the final response (called exactly once). */
  reply(datagrams: Buffer[]): void;
}

/** Queues local requests; the conductor takes them in its duty cycle, like datagrams. */
export interface LocalRequests {
  poll(run: (job: LocalRequest) => void, limit: number): number;
}

export class ArchiverConductor implements Agent, ControlRequestHandler {
  readonly roleName = 'archiver-conductor';
  readonly sessions: ControlSessions;
  readonly recordings: RecordingManager;
  readonly replays: ReplayManager;
  readonly streams: StreamManager;
  /** Decodes inbound datagrams and calls onRequest/onMalformed (tests may dispatch() directly). */
  readonly adapter: ControlAdapter;
  private readonly handlers: RequestHandlers;
  private readonly runLocal = (job: LocalRequest): void => this.executeLocal(job);
  private nextSessionCheckNs = 0n;
  private closed = false;

  constructor(private readonly deps: ConductorDeps) {
    const { store, notifications, counters, clock, log, config } = deps;
    this.sessions = deps.sessions;
    this.recordings = new RecordingManager({
      store,
      sources: deps.sources,
      notifications,
      counters,
      clock,
      log,
      maxEventSize: config.limits.maxEventSize,
      progressIntervalMs: config.progressIntervalMs,
    });
    this.replays = new ReplayManager({ store, notifications, counters, log });
    this.recordings.onRecordingStarted((rs) => this.replays.recordingStarted(rs));
    this.streams = new StreamManager({
      ...(deps.streamServer ? { server: deps.streamServer } : {}),
      store,
      notifications,
      counters,
      clock,
      log,
      nextId: () => this.replays.nextId(),
      isRecordingActive: (id) => this.recordings.isActive(id),
      channelsLive: (names) => names.some((n) => this.recordings.findActiveByName(n) !== undefined),
    });
    this.recordings.onRecordingStarted((rs) => this.streams.recordingStarted(rs));
    this.handlers = new RequestHandlers({
      config,
      store,
      recordings: this.recordings,
      replays: this.replays,
      streams: this.streams,
      responses: deps.responses,
      counters,
      clock,
      controlAddress: deps.controlAddress ?? (() => undefined),
      createReplaySender: deps.createReplaySender,
      ...(deps.retention ? { retention: deps.retention } : {}),
      ...(deps.archiveTier ? { archiveTier: deps.archiveTier } : {}),
    });
    this.adapter = new ControlAdapter(this, counters, deps.inbound);
  }

  // ---------------------------------------------------------------- duty cycle

  doWork(): number {
    let work = this.adapter.poll(256);
    if (this.deps.local) work += this.deps.local.poll(this.runLocal, 64);
    work += this.recordings.doWork();
    work += this.replays.doWork();
    work += this.streams.doWork();
    if (this.deps.retention) work += this.deps.retention.doWork();
    const now = this.deps.clock.nanoTime();
    if (now >= this.nextSessionCheckNs) {
      this.nextSessionCheckNs = now + SESSION_CHECK_INTERVAL_NS;
      work += this.checkSessionTimeouts(now);
      try {
        this.deps.store.heartbeat();
      } catch (err) {
        this.deps.log.warn({ error: String(err) }, 'archive housekeeping failed');
      }
    }
    const { counters } = this.deps;
    counters.set('activeSessions', this.sessions.size);
    counters.set('activeRecordings', this.recordings.size);
    counters.set('activeReplays', this.replays.size + this.streams.size);
    counters.set('notificationsSent', this.deps.notifications.sent);
    return work;
  }

  private checkSessionTimeouts(now: bigint): number {
    const gone = this.sessions.timedOut(now);
    for (const s of gone) {
      this.deps.log.info({ controlSessionId: s.sessionId, client: s.clientName }, 'control session timed out');
      this.deps.counters.add('sessionsTimedOut');
      this.closeSession(s);
    }
    return gone.length;
  }

  // ---------------------------------------------------------------- requests

  onMalformed(code: number, message: string, controlSessionId: number, correlationId: bigint, from: RequestSource): void {
    this.deps.sender.send(this.deps.responses.error(controlSessionId, correlationId, code, message), from.port, from.host);
  }

  onRequest(request: ControlRequest, from: RequestSource, fingerprint: string): void {
    if (request.type === 'connect') {
      this.onConnect(request, from);
      return;
    }
    const sid = request.controlSessionId;
    const s = this.sessions.find(sid);
    if (!s) {
      this.replyTo(from, ErrorCode.UNKNOWN_SESSION, sid, request.correlationId, `no control session ${sid}`);
      return;
    }
    if (!s.belongsTo(from.host, from.port)) {
      // another socket naming this session: answered where it came from, nothing executed,
      // and the session is not refreshed by it
      this.deps.counters.add('rejected');
      this.replyTo(from, ErrorCode.SESSION_ADDRESS_MISMATCH, sid, request.correlationId, `control session ${sid} belongs to another address`);
      return;
    }
    s.touch(this.deps.clock.nanoTime());
    const cached = s.lookup(request.correlationId, fingerprint);
    switch (cached.kind) {
      case 'answered':
        this.deps.counters.add('duplicateRequests');
        this.sendAll(s, cached.datagrams);
        return;
      case 'pending':
        this.deps.counters.add('duplicateRequests');
        return;
      case 'reused':
        // not cached: the answer to the request that owns the correlationId stays as it is
        this.sendAll(s, [
          this.deps.responses.error(sid, request.correlationId, ErrorCode.CORRELATION_REUSED, `correlationId ${request.correlationId} was used for a different request`),
        ]);
        return;
      case 'evicted':
        if (!IDEMPOTENT_REQUESTS.has(request.type)) {
          this.deps.counters.add('duplicateRequests');
          this.sendAll(s, [
            this.deps.responses.error(sid, request.correlationId, ErrorCode.INVALID_ARGUMENT, `duplicate correlationId ${request.correlationId}`),
          ]);
          return;
        }
        break;
      case 'new':
        break;
    }
    this.execute(s, request, fingerprint);
  }

  private replyTo(to: RequestSource, code: number, sid: number, correlationId: bigint, message: string): void {
    this.deps.sender.send(this.deps.responses.error(sid, correlationId, code, message), to.port, to.host);
  }

  private onConnect(r: ConnectRequest, from: RequestSource): void {
    let result;
    try {
      let respHost = from.host;
      let respPort = from.port;
      if (r.responseChannel !== '') {
        const ep = parseUdpEndpoint(r.responseChannel, 'responseChannel');
        checkNotOwnEndpoint('responseChannel', ep.host, ep.port, this.deps.controlAddress?.());
        respHost = ep.host;
        respPort = ep.port;
      }
      result = this.sessions.connect({
        host: from.host,
        port: from.port,
        correlationId: r.correlationId,
        keepAliveTimeoutMs: r.keepAliveTimeoutMs,
        responseHost: respHost,
        responsePort: respPort,
        clientName: r.clientName,
        nowNs: this.deps.clock.nanoTime(),
      });
    } catch (err) {
      const e = toVcrError(err);
      this.replyTo(from, e.code, 0, r.correlationId, e.message);
      return;
    }
    const s = result.session;
    if (result.evicted) {
      const ev = result.evicted;
      this.deps.counters.add('sessionsEvicted');
      this.deps.log.warn({ controlSessionId: ev.sessionId, client: ev.clientName, address: ev.clientHost }, 'control session evicted to make room');
      this.closeSession(ev);
    }
    if (!result.repeated) {
      this.deps.counters.add('sessionsOpened');
      this.deps.log.info(
        { controlSessionId: s.sessionId, client: r.clientName, response: `${s.responseHost}:${s.responsePort}`, keepAliveMs: Number(s.timeoutNs / 1_000_000n) },
        'control session opened',
      );
    }
    this.sendAll(s, [this.deps.responses.ok(s.sessionId, r.correlationId, s.sessionId)]);
  }

  private execute(s: ControlSession, r: SessionRequest, fingerprint: string): void {
    const sid = s.sessionId;
    const ctx: RequestContext = { session: s, answer: { data: [] }, defer: () => this.defer(s, r.correlationId, fingerprint) };
    let datagrams: Buffer[];
    try {
      const result = this.handlers.handle(ctx, r);
      if (result === 'pending') return;
      datagrams = [...ctx.answer.data, this.deps.responses.ok(sid, r.correlationId, result, ctx.answer.data.length)];
    } catch (err) {
      const e = toVcrError(err);
      if (!isVcrError(err)) this.deps.log.error({ request: r.type, error: String(err) }, 'request failed unexpectedly');
      datagrams = [this.deps.responses.error(sid, r.correlationId, e.code, e.message)];
    }
    if (r.type === 'close') {
      this.sendAll(s, datagrams);
      this.closeSession(s);
      return;
    }
    s.remember(r.correlationId, fingerprint, datagrams);
    this.sendAll(s, datagrams);
  }

  /** A local request: the same handlers, no answer cache (nothing retries it), its own encoding. */
  private executeLocal(job: LocalRequest): void {
    const { session: s, request: r, responses } = job;
    const sid = s.sessionId;
    let done = false;
    const reply = (datagrams: Buffer[]): void => {
      if (done) return;
      done = true;
      job.reply(datagrams);
    };
    const answer: DeferredAnswer = {
      ok: (relevantId, data = []) => reply([...data, responses.ok(sid, r.correlationId, relevantId, data.length)]),
      error: (code, message) => reply([responses.error(sid, r.correlationId, code, message)]),
    };
    const ctx: RequestContext = { session: s, answer: { data: [] }, defer: () => answer, responses };
    try {
      const result = this.handlers.handle(ctx, r);
      if (result !== 'pending') answer.ok(result, ctx.answer.data);
    } catch (err) {
      const e = toVcrError(err);
      if (!isVcrError(err)) this.deps.log.error({ request: r.type, error: String(err) }, 'request failed unexpectedly');
      answer.error(e.code, e.message);
    }
  }

  /** The answer to a request that completes later, sent (and cached) if its session is still there. */
  private defer(s: ControlSession, correlationId: bigint, fingerprint: string): DeferredAnswer {
    s.markPending(correlationId, fingerprint);
    let done = false;
    const complete = (make: (sid: number) => Buffer[]): void => {
      if (done) return;
      done = true;
      if (this.sessions.find(s.sessionId) !== s) return;
      const datagrams = make(s.sessionId);
      s.remember(correlationId, fingerprint, datagrams);
      this.sendAll(s, datagrams);
    };
    return {
      ok: (relevantId, data = []) => complete((sid) => [...data, this.deps.responses.ok(sid, correlationId, relevantId, data.length)]),
      error: (code, message) => complete((sid) => [this.deps.responses.error(sid, correlationId, code, message)]),
    };
  }

  private sendAll(s: ControlSession, datagrams: Buffer[]): void {
    for (const d of datagrams) this.deps.sender.send(d, s.responsePort, s.responseHost);
  }

  /** Ends a control session: its replays stop (CLIENT_GONE), it leaves the table. */
  closeSession(s: ControlSession): void {
    this.replays.stopOwnedBy(s.sessionId, 'CLIENT_GONE');
    this.streams.stopOwnedBy(s.sessionId, 'CLIENT_GONE');
    s.close();
    this.sessions.remove(s);
    this.deps.counters.add('sessionsClosed');
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stops every recording and replay (notifications go out) and closes every session. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.recordings.onClose();
    this.replays.onClose();
    this.streams.onClose();
    this.deps.retention?.close();
    for (const s of [...this.sessions.values()]) this.closeSession(s);
  }
}

export function toVcrError(err: unknown): VcrError {
  if (err instanceof VcrError) return err;
  return new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err));
}
