/**
 * The archiver's replays: a SessionWorker of ReplaySessions (per-session error isolation) plus
 * what happens around them: the request's answer once the replay's sockets are set up (or the
 * error that stopped them), ReplayStarted / ReplayEnded notifications, counters, the replays of
 * a control session that goes away, and time replays with follow, which take the recordings of
 * their channels that start later. Request handlers see it through ReplayOps.
 */
import type { Agent } from '../agent/agent.js';
import { SessionWorker } from '../agent/session-worker.js';
import { ErrorCode } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverLog } from './archiver-services.js';
import { matchesChannel } from './catalog-queries.js';
import type { NotificationProxy, StopReasonName } from './notification-proxy.js';
import type { ArchiveStore } from './ports.js';
import type { RecordingSession } from './recording-session.js';
import type { DeferredAnswer } from './request-context.js';
import type { ReplaySender, ReplaySession } from './replay-session.js';
import type { UdpEndpoint } from './udp-endpoint.js';

/** A channel of a time replay with follow: its recordings that start later go to destination. */
export interface FollowedChannel {
  channel: string;
  destination: UdpEndpoint;
  sender: ReplaySender;
}

export interface ReplayRegistration {
  /** The control session that asked (its replays stop when it goes). */
  owner: number;
  answer: DeferredAnswer;
  /** For the ReplayStarted notification. */
  fromUtcNs: bigint | null;
  toUtcNs: bigint | null;
  speed: number;
  /** A time replay with follow: the channels whose new recordings join it. */
  follow?: FollowedChannel[];
}

/** What request handlers may do with replays. */
export interface ReplayOps {
  /** The id the next replay gets. */
  nextId(): number;
  /** Runs a replay; its answer (replaySessionId or error) comes when its sockets are ready. */
  add(rp: ReplaySession, registration: ReplayRegistration): void;
  get(replaySessionId: number): ReplaySession | undefined;
  /** Replays running (or opening): their count is what limits.maxReplays bounds. */
  readonly size: number;
  forEach(fn: (rp: ReplaySession) => void): void;
}

export interface ReplayManagerDeps {
  store: ArchiveStore;
  notifications: NotificationProxy;
  counters: ArchiverCounters;
  log: ArchiverLog;
}

export class ReplayManager implements Agent, ReplayOps {
  readonly roleName = 'replays';
  private readonly worker: SessionWorker<ReplaySession>;
  private readonly registrations = new Map<ReplaySession, ReplayRegistration>();
  private lastId = 0;

  constructor(private readonly deps: ReplayManagerDeps) {
    this.worker = new SessionWorker<ReplaySession>('replays', {
      onSessionError: (rp, err) => rp.fail(err),
      onSessionClosed: (rp) => this.reap(rp),
    });
  }

  get size(): number {
    return this.worker.size;
  }

  nextId(): number {
    return ++this.lastId;
  }

  add(rp: ReplaySession, registration: ReplayRegistration): void {
    this.registrations.set(rp, registration);
    rp.onStarted = (started) => this.announce(started);
    this.worker.add(rp);
  }

  get(replaySessionId: number): ReplaySession | undefined {
    return this.worker.find(replaySessionId);
  }

  forEach(fn: (rp: ReplaySession) => void): void {
    this.worker.forEach(fn);
  }

  /** Stops the replays a control session started (it closed or timed out). */
  stopOwnedBy(controlSessionId: number, reason: StopReasonName): void {
    this.worker.forEach((rp) => {
      if (this.registrations.get(rp)?.owner === controlSessionId) rp.stop(reason);
    });
  }

  /** A new recording: time replays with follow whose channels name it take it on. */
  recordingStarted(rs: RecordingSession): void {
    this.worker.forEach((rp) => {
      const reg = this.registrations.get(rp);
      if (!reg?.follow || rp.isDone()) return;
      for (const f of reg.follow) {
        if (!matchesChannel(rs, f.channel)) continue;
        try {
          const info = this.deps.store.describe(rs.recordingId);
          if (!info || (reg.toUtcNs !== null && info.startUtcNs > reg.toUtcNs)) continue;
          rp.addStream({
            recordingId: rs.recordingId,
            reader: this.deps.store.openReader(rs.recordingId, info.startPosition, true),
            destination: f.destination,
            sender: f.sender,
            endPosition: Infinity,
          });
        } catch (err) {
          this.deps.log.warn({ replaySessionId: rp.sessionId, recordingId: rs.recordingId, error: String(err) }, 'replay could not follow a new recording');
        }
      }
    });
  }

  doWork(): number {
    return this.worker.doWork();
  }

  onClose(): void {
    this.worker.onClose();
  }

  private announce(rp: ReplaySession): void {
    const reg = this.registrations.get(rp);
    this.deps.counters.add('replaysStarted');
    this.deps.notifications.replayStarted(rp.sessionId, rp.recordingCount, reg?.fromUtcNs ?? null, reg?.toUtcNs ?? null, reg?.speed ?? 0);
    reg?.answer.ok(rp.sessionId);
  }

  private reap(rp: ReplaySession): void {
    const reg = this.registrations.get(rp);
    this.registrations.delete(rp);
    if (!rp.started) {
      // it never sent anything: the request is answered with why, no ReplayEnded
      const code = rp.errorCode !== ErrorCode.OK ? rp.errorCode : ErrorCode.GENERIC;
      reg?.answer.error(code, rp.errorMessage || `replay ${rp.sessionId} stopped before it started`);
      return;
    }
    const { counters, notifications } = this.deps;
    counters.add('replaysEnded');
    counters.add('replayEvents', rp.eventsSent);
    counters.add('replayBytes', rp.bytesSent);
    if (rp.errorCode !== ErrorCode.OK) counters.add('errors');
    notifications.replayEnded(rp.sessionId, rp.eventsSent, rp.bytesSent, rp.endReason ?? 'REQUESTED', rp.errorCode, rp.errorMessage);
  }
}
