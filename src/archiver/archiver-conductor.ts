/**
 * The archiver's single duty-cycle agent. Each doWork() polls the control adapter (decoded
 * requests come back through onRequest), steps every recording session (source -> writer,
 * one metadata commit per cycle), steps every replay session (bounded batches), reaps finished
 * sessions into notifications, and checks control-session timeouts and progress intervals.
 *
 * The session protocol lives here: connect, exactly one final response per request, answers
 * cached per session so a retried correlationId is answered from the cache and not executed
 * twice. The request handlers that only read the archive are in request-handlers.ts.
 */
import type { Agent } from '../agent/agent.js';
import { ErrorCode, VcrError, errorCodeName, isVcrError } from '../util/errors.js';
import type { ArchiverConfig } from './archiver-config.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ControlRequestHandler } from './control-adapter.js';
import { IDEMPOTENT_REQUESTS, type ConnectRequest, type ControlRequest, type SessionRequest } from './control-requests.js';
import type { ControlResponseProxy } from './control-response-proxy.js';
import { ControlSession } from './control-session.js';
import type { NotificationProxy } from './notification-proxy.js';
import type { ArchiveStore, SourceFactory } from './ports.js';
import { RecordingSession, RecordingSessionState } from './recording-session.js';
import { RequestHandlers, type Answer } from './request-handlers.js';
import { ReplaySession } from './replay-session.js';
import { parseUdpEndpoint, type DatagramSender } from './udp-endpoint.js';
import type { ReplaySender } from './replay-session.js';
import type { UdpEndpoint } from './udp-endpoint.js';

export interface ConductorClock {
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

export interface ConductorDeps {
  config: ArchiverConfig;
  store: ArchiveStore;
  sources: SourceFactory;
  /** Sends control responses (the control socket). */
  sender: DatagramSender;
  responses: ControlResponseProxy;
  notifications: NotificationProxy;
  counters: ArchiverCounters;
  clock: ConductorClock;
  log: ArchiverLog;
  createReplaySender: (ep: UdpEndpoint) => ReplaySender;
  /** The thing that polls the control socket; set by Archiver (absent in pure tests). */
  pollControl?: (limit: number) => number;
}

const SESSION_CHECK_INTERVAL_NS = 100_000_000n;

interface PendingStart {
  sessionId: number | undefined;
  correlationId: bigint;
}

export class ArchiverConductor implements Agent, ControlRequestHandler {
  readonly roleName = 'archiver-conductor';
  readonly sessions = new Map<number, ControlSession>();
  private readonly connects = new Map<string, number>();
  readonly recordings: RecordingSession[] = [];
  readonly replays = new Map<number, ReplaySession>();
  private readonly pendingStarts = new Map<RecordingSession, PendingStart>();
  private readonly announced = new Set<RecordingSession>();
  private nextSessionId = 1;
  private nextReplayId = 1;
  private nextRecordingSessionId = 1;
  private nextSessionCheckNs = 0n;
  private readonly handlers: RequestHandlers;
  private closed = false;

  constructor(private readonly deps: ConductorDeps) {
    this.handlers = new RequestHandlers(deps, this);
  }

  // ---------------------------------------------------------------- duty cycle

  doWork(): number {
    let work = 0;
    if (this.deps.pollControl) work += this.deps.pollControl(256);
    const now = this.deps.clock.nanoTime();
    for (let i = 0; i < this.recordings.length; i++) {
      const rs = this.recordings[i]!;
      work += rs.doWork();
      if (rs.state === RecordingSessionState.RECORDING && !this.announced.has(rs)) this.announceStarted(rs);
      if (rs.isDone()) {
        this.reapRecording(rs);
        this.recordings.splice(i--, 1);
        work++;
        continue;
      }
      const p = rs.progressDue(now);
      if (p) {
        this.deps.notifications.recordingProgress(p.recordingId, p.position, p.eventCount, p.lastUtcNs, p.kernelDrops, p.droppedEvents);
      }
    }
    for (const [id, rp] of this.replays) {
      work += rp.doWork();
      if (rp.isDone()) {
        this.reapReplay(rp);
        this.replays.delete(id);
        work++;
      }
    }
    if (now >= this.nextSessionCheckNs) {
      this.nextSessionCheckNs = now + SESSION_CHECK_INTERVAL_NS;
      work += this.checkSessionTimeouts(now);
      try {
        this.deps.store.heartbeat();
      } catch (err) {
        this.deps.log.warn({ error: String(err) }, 'archive housekeeping failed');
      }
    }
    this.deps.counters.set('activeSessions', this.sessions.size);
    this.deps.counters.set('activeRecordings', this.recordings.length);
    this.deps.counters.set('activeReplays', this.replays.size);
    this.deps.counters.set('notificationsSent', this.deps.notifications.sent);
    return work;
  }

  private checkSessionTimeouts(now: bigint): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (s.isTimedOut(now)) {
        this.deps.log.info({ controlSessionId: s.sessionId, client: s.clientName }, 'control session timed out');
        this.deps.counters.add('sessionsTimedOut');
        this.closeSession(s);
        n++;
      }
    }
    return n;
  }

  private announceStarted(rs: RecordingSession): void {
    this.announced.add(rs);
    this.deps.counters.add('recordingsStarted');
    this.deps.log.info({ recordingId: rs.recordingId, channel: rs.channel, source: rs.sourceUri }, 'recording started');
    this.deps.notifications.recordingStarted(rs.recordingId, rs.position, this.deps.clock.epochNanos(), rs.channel, rs.sourceUri);
    const p = this.pendingStarts.get(rs);
    if (p) {
      this.pendingStarts.delete(rs);
      this.answerPending(p, (sid) => [this.deps.responses.ok(sid, p.correlationId, rs.recordingId)]);
    }
  }

  private reapRecording(rs: RecordingSession): void {
    const p = this.pendingStarts.get(rs);
    if (p) {
      this.pendingStarts.delete(rs);
      const code = rs.errorCode !== ErrorCode.OK ? rs.errorCode : ErrorCode.SOURCE_FAILED;
      const msg = rs.errorMessage || `recording of ${rs.channel} stopped before its source opened`;
      this.answerPending(p, (sid) => [this.deps.responses.error(sid, p.correlationId, code, msg)]);
    }
    if (rs.errorCode !== ErrorCode.OK) {
      this.deps.counters.add('errors');
      this.deps.counters.add('recordingsFailed');
      this.deps.log.error(
        { recordingId: rs.recordingId, channel: rs.channel, errorCode: errorCodeName(rs.errorCode), error: rs.errorMessage },
        'recording failed',
      );
      this.deps.notifications.error(rs.errorCode, rs.recordingId, this.deps.clock.epochNanos(), `${rs.channel}: ${rs.errorMessage}`);
    }
    if (this.announced.delete(rs)) {
      this.deps.counters.add('recordingsStopped');
      this.deps.log.info({ recordingId: rs.recordingId, channel: rs.channel, reason: rs.stopReason, events: rs.eventCount }, 'recording stopped');
      this.deps.notifications.recordingStopped(
        rs.recordingId,
        rs.position,
        rs.stoppedAtUtcNs,
        rs.eventCount,
        rs.stopReason ?? 'REQUESTED',
        rs.errorCode,
        rs.errorMessage,
      );
    }
  }

  private reapReplay(rp: ReplaySession): void {
    this.sessions.get(rp.controlSessionId)?.replayIds.delete(rp.sessionId);
    this.deps.counters.add('replaysEnded');
    this.deps.counters.add('replayEvents', rp.eventsSent);
    this.deps.counters.add('replayBytes', rp.bytesSent);
    if (rp.errorCode !== ErrorCode.OK) this.deps.counters.add('errors');
    this.deps.notifications.replayEnded(rp.sessionId, rp.eventsSent, rp.bytesSent, rp.endReason ?? 'REQUESTED', rp.errorCode, rp.errorMessage);
  }

  private answerPending(p: PendingStart, make: (sid: number) => Buffer[]): void {
    if (p.sessionId === undefined) return;
    const s = this.sessions.get(p.sessionId);
    if (!s) return;
    const datagrams = make(s.sessionId);
    s.remember(p.correlationId, datagrams);
    this.sendAll(s, datagrams);
  }

  // ---------------------------------------------------------------- requests

  onMalformed(code: number, message: string, controlSessionId: number, correlationId: bigint, host: string, port: number): void {
    this.deps.sender.send(this.deps.responses.error(controlSessionId, correlationId, code, message), port, host);
  }

  onRequest(request: ControlRequest, host: string, port: number): void {
    if (request.type === 'connect') {
      this.onConnect(request, host, port);
      return;
    }
    const sid = request.controlSessionId;
    const s = this.sessions.get(sid);
    if (!s) {
      this.deps.sender.send(
        this.deps.responses.error(sid, request.correlationId, ErrorCode.UNKNOWN_SESSION, `no control session ${sid}`),
        port,
        host,
      );
      return;
    }
    s.touch(this.deps.clock.nanoTime());
    const cached = s.lookup(request.correlationId);
    if (cached.kind === 'answered') {
      this.deps.counters.add('duplicateRequests');
      this.sendAll(s, cached.datagrams);
      return;
    }
    if (cached.kind === 'pending') {
      this.deps.counters.add('duplicateRequests');
      return;
    }
    if (cached.kind === 'evicted' && !IDEMPOTENT_REQUESTS.has(request.type)) {
      this.deps.counters.add('duplicateRequests');
      this.sendAll(s, [
        this.deps.responses.error(sid, request.correlationId, ErrorCode.INVALID_ARGUMENT, `duplicate correlationId ${request.correlationId}`),
      ]);
      return;
    }
    this.execute(s, request);
  }

  private onConnect(r: ConnectRequest, host: string, port: number): void {
    const key = `${host}:${port}:${r.correlationId}`;
    const existing = this.connects.get(key);
    const again = existing !== undefined ? this.sessions.get(existing) : undefined;
    if (again) {
      again.touch(this.deps.clock.nanoTime());
      this.sendAll(again, [this.deps.responses.ok(again.sessionId, r.correlationId, again.sessionId)]);
      return;
    }
    let respHost = host;
    let respPort = port;
    try {
      if (r.responseChannel !== '') {
        const ep = parseUdpEndpoint(r.responseChannel, 'responseChannel');
        respHost = ep.host;
        respPort = ep.port;
      }
      if (this.sessions.size >= this.deps.config.limits.maxSessions) {
        throw new VcrError(ErrorCode.NOT_ALLOWED, `too many control sessions (${this.deps.config.limits.maxSessions})`);
      }
    } catch (err) {
      const e = toVcrError(err);
      this.deps.sender.send(this.deps.responses.error(0, r.correlationId, e.code, e.message), port, host);
      return;
    }
    const timeoutMs = r.keepAliveTimeoutMs > 0 ? r.keepAliveTimeoutMs : this.deps.config.limits.sessionTimeoutMs;
    const id = this.nextSessionId++;
    const s = new ControlSession(id, respHost, respPort, BigInt(timeoutMs) * 1_000_000n, this.deps.clock.nanoTime(), r.clientName);
    this.sessions.set(id, s);
    this.connects.set(key, id);
    this.deps.counters.add('sessionsOpened');
    this.deps.log.info({ controlSessionId: id, client: r.clientName, response: `${respHost}:${respPort}` }, 'control session opened');
    this.sendAll(s, [this.deps.responses.ok(id, r.correlationId, id)]);
  }

  private execute(s: ControlSession, r: SessionRequest): void {
    const sid = s.sessionId;
    const answer: Answer = { data: [] };
    let datagrams: Buffer[];
    try {
      const result = this.handlers.handle(s, r, answer);
      if (result === 'pending') {
        s.markPending(r.correlationId);
        return;
      }
      datagrams = [...answer.data, this.deps.responses.ok(sid, r.correlationId, result, answer.data.length)];
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
    s.remember(r.correlationId, datagrams);
    this.sendAll(s, datagrams);
  }

  private sendAll(s: ControlSession, datagrams: Buffer[]): void {
    for (const d of datagrams) this.deps.sender.send(d, s.responsePort, s.responseHost);
  }

  // ---------------------------------------------------------------- used by RequestHandlers

  /** Starts recording channel from source; the answer comes when the source has opened. */
  startRecording(channel: string, aliases: string[], sourceUri: string, requester?: { sessionId: number; correlationId: bigint }): RecordingSession {
    const source = this.deps.sources.create(sourceUri, { maxEventSize: this.deps.config.limits.maxEventSize });
    const clock = this.deps.clock;
    const rs = new RecordingSession(
      this.nextRecordingSessionId++,
      channel,
      aliases,
      sourceUri,
      source,
      (p) => this.deps.store.createRecording(p),
      { utcNs: () => clock.epochNanos(), monoNs: () => clock.nanoTime() },
      this.deps.counters,
      4096,
      BigInt(this.deps.config.progressIntervalMs) * 1_000_000n,
    );
    this.recordings.push(rs);
    this.pendingStarts.set(rs, { sessionId: requester?.sessionId, correlationId: requester?.correlationId ?? 0n });
    return rs;
  }

  addReplay(controlSessionId: number, make: (replayId: number) => ReplaySession): ReplaySession {
    const id = this.nextReplayId++;
    const rp = make(id);
    this.replays.set(id, rp);
    this.sessions.get(controlSessionId)?.replayIds.add(id);
    this.deps.counters.add('replaysStarted');
    return rp;
  }

  closeSession(s: ControlSession): void {
    for (const id of s.replayIds) this.replays.get(id)?.stop('CLIENT_GONE');
    s.close();
    this.sessions.delete(s.sessionId);
    for (const [k, v] of this.connects) if (v === s.sessionId) this.connects.delete(k);
    this.deps.counters.add('sessionsClosed');
  }

  isRecordingActive(recordingId: number): boolean {
    return this.recordings.some((r) => r.recordingId === recordingId && r.isActive());
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stops every recording and replay (notifications go out) and closes every session. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const rs of this.recordings) {
      rs.stop('SHUTDOWN');
      this.reapRecording(rs);
    }
    this.recordings.length = 0;
    for (const rp of this.replays.values()) {
      rp.stop('SHUTDOWN');
      this.reapReplay(rp);
    }
    this.replays.clear();
    for (const s of [...this.sessions.values()]) this.closeSession(s);
  }
}

export function toVcrError(err: unknown): VcrError {
  if (err instanceof VcrError) return err;
  return new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err));
}
