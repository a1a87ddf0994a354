/**
 * The archiver's recordings: a SessionWorker of RecordingSessions (per-session error isolation:
 * a session whose doWork throws is failed, reported and removed, and the others go on) plus
 * what happens around them: the start answer once the source has opened, RecordingStarted /
 * RecordingProgress / RecordingStopped and error notifications, counters and log lines.
 * Request handlers see it through the narrow RecordingOps interface.
 */
import type { Agent } from '../agent/agent.js';
import { SessionWorker } from '../agent/session-worker.js';
import { ErrorCode, errorCodeName } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverClock, ArchiverLog } from './archiver-services.js';
import { matchesChannel } from './catalog-queries.js';
import type { ChannelSpec } from './channel-rules.js';
import type { NotificationProxy } from './notification-proxy.js';
import type { ArchiveStore, SourceFactory } from './ports.js';
import { RecordingSession } from './recording-session.js';
import { NO_ANSWER, type DeferredAnswer } from './request-context.js';

/** What request handlers may do with recordings. */
export interface RecordingOps {
  /** Starts recording; `answer` gets the recordingId once the source has opened, or the error. */
  start(spec: ChannelSpec, answer?: DeferredAnswer): RecordingSession;
  /** Recordings opening or recording. */
  active(): RecordingSession[];
  /** The active recording with this id. */
  findActive(recordingId: number): RecordingSession | undefined;
  /** The active recording known by this name (primary or alias). */
  findActiveByName(name: string): RecordingSession | undefined;
  isActive(recordingId: number): boolean;
}

export interface RecordingManagerDeps {
  store: ArchiveStore;
  sources: SourceFactory;
  notifications: NotificationProxy;
  counters: ArchiverCounters;
  clock: ArchiverClock;
  log: ArchiverLog;
  maxEventSize: number;
  progressIntervalMs: number;
}

export class RecordingManager implements Agent, RecordingOps {
  readonly roleName = 'recordings';
  private readonly worker: SessionWorker<RecordingSession>;
  private readonly answers = new Map<RecordingSession, DeferredAnswer>();
  private readonly startListeners: ((rs: RecordingSession) => void)[] = [];
  private nextSessionId = 1;

  constructor(private readonly deps: RecordingManagerDeps) {
    this.worker = new SessionWorker<RecordingSession>('recordings', {
      onSessionError: (rs, err) => rs.fail(err),
      onSessionClosed: (rs) => this.reap(rs),
    });
  }

  /** Called when a recording has been created in the archive (follow time replays pick it up). */
  onRecordingStarted(listener: (rs: RecordingSession) => void): void {
    this.startListeners.push(listener);
  }

  get size(): number {
    return this.worker.size;
  }

  start(spec: ChannelSpec, answer: DeferredAnswer = NO_ANSWER): RecordingSession {
    const source = this.deps.sources.create(spec.source, { maxEventSize: this.deps.maxEventSize });
    const clock = this.deps.clock;
    const rs = new RecordingSession(
      this.nextSessionId++,
      spec.channel,
      [...spec.aliases],
      spec.source,
      source,
      (p) => this.deps.store.createRecording(p),
      { utcNs: () => clock.epochNanos(), monoNs: () => clock.nanoTime() },
      this.deps.counters,
      4096,
      BigInt(this.deps.progressIntervalMs) * 1_000_000n,
    );
    rs.onStarted = (started) => this.announce(started);
    this.answers.set(rs, answer);
    this.worker.add(rs);
    return rs;
  }

  active(): RecordingSession[] {
    const out: RecordingSession[] = [];
    this.worker.forEach((rs) => {
      if (rs.isActive()) out.push(rs);
    });
    return out;
  }

  findActive(recordingId: number): RecordingSession | undefined {
    let found: RecordingSession | undefined;
    this.worker.forEach((rs) => {
      if (!found && rs.recordingId === recordingId && rs.isActive()) found = rs;
    });
    return found;
  }

  findActiveByName(name: string): RecordingSession | undefined {
    let found: RecordingSession | undefined;
    this.worker.forEach((rs) => {
      if (!found && rs.isActive() && matchesChannel(rs, name)) found = rs;
    });
    return found;
  }

  isActive(recordingId: number): boolean {
    return this.findActive(recordingId) !== undefined;
  }

  doWork(): number {
    const work = this.worker.doWork();
    const now = this.deps.clock.nanoTime();
    this.worker.forEach((rs) => {
      const p = rs.progressDue(now);
      if (p) this.deps.notifications.recordingProgress(p.recordingId, p.position, p.eventCount, p.lastUtcNs, p.kernelDrops, p.droppedEvents);
    });
    return work;
  }

  /** Stops every recording (reason SHUTDOWN, what the sources delivered is recorded first). */
  onClose(): void {
    this.worker.onClose();
  }

  private announce(rs: RecordingSession): void {
    const { counters, log, notifications, clock } = this.deps;
    counters.add('recordingsStarted');
    log.info({ recordingId: rs.recordingId, channel: rs.channel, source: rs.sourceUri }, 'recording started');
    notifications.recordingStarted(rs.recordingId, rs.position, clock.epochNanos(), rs.channel, rs.sourceUri);
    const answer = this.answers.get(rs);
    this.answers.delete(rs);
    answer?.ok(rs.recordingId);
    for (const l of this.startListeners) l(rs);
  }

  private reap(rs: RecordingSession): void {
    const { counters, log, notifications, clock } = this.deps;
    const answer = this.answers.get(rs);
    if (answer) {
      // never started: the start request is answered with why
      this.answers.delete(rs);
      const code = rs.errorCode !== ErrorCode.OK ? rs.errorCode : ErrorCode.SOURCE_FAILED;
      answer.error(code, rs.errorMessage || `recording of ${rs.channel} stopped before its source opened`);
    }
    if (rs.errorCode !== ErrorCode.OK) {
      counters.add('errors');
      counters.add('recordingsFailed');
      log.error({ recordingId: rs.recordingId, channel: rs.channel, errorCode: errorCodeName(rs.errorCode), error: rs.errorMessage }, 'recording failed');
      notifications.error(rs.errorCode, rs.recordingId, clock.epochNanos(), `${rs.channel}: ${rs.errorMessage}`);
    }
    if (rs.recordingId >= 0) {
      counters.add('recordingsStopped');
      log.info({ recordingId: rs.recordingId, channel: rs.channel, reason: rs.stopReason, events: rs.eventCount }, 'recording stopped');
      notifications.recordingStopped(
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
}
