/**
 * The archiver's streamed replays (docs/PROTOCOL.md "Streamed replay"): the stream endpoint
 * (a TransportServer the Archiver binds), the handshakes of connections that have not shown a
 * token yet, and a SessionWorker of StreamSessions (per-session error isolation), plus what
 * happens around them: one-time tokens bound to the control session and its address,
 * ReplayStarted / ReplayEnded notifications, counters, the streams of a control session that
 * goes away, and follow reads over channels, which take the recordings that start later.
 * Request handlers see it through StreamOps.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from '../agent/agent.js';
import { SessionWorker } from '../agent/session-worker.js';
import type { Connection } from '../transport/connection.js';
import type { TransportServer } from '../transport/transport-server.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverClock, ArchiverLog } from './archiver-services.js';
import { matchesChannel } from './catalog-queries.js';
import type { NotificationProxy, StopReasonName } from './notification-proxy.js';
import type { ArchiveStore } from './ports.js';
import type { RecordingSession } from './recording-session.js';
import { StreamHandshakes, refuse } from './stream-handshakes.js';
import { StreamMerge, type StreamInputSpec, type StreamMergeOptions } from './stream-merge.js';
import { StreamSession } from './stream-session.js';

/** How long a granted stream waits for its client to connect and present the token. */
export const STREAM_CONNECT_TIMEOUT_NS = 10_000_000_000n;
/** How long a new connection has to send its StreamHello. */
const HELLO_TIMEOUT_NS = 5_000_000_000n;

/** What a StreamReplayRequest is answered with (a StreamGrant data message). */
export interface StreamGrant {
  replaySessionId: number;
  token: bigint;
  /** HOST:PORT of the stream endpoint as bound (a wildcard host: the client uses the control host). */
  endpoint: string;
}

export interface StreamPlan {
  inputs: StreamInputSpec[];
  fromUtcNs: bigint | null;
  toUtcNs: bigint | null;
  /** A follow read over channels: these names' recordings that start later join. */
  followChannels?: string[];
}

/** What request handlers may do with streams. */
export interface StreamOps {
  /** Whether this archiver has a stream endpoint. */
  readonly enabled: boolean;
  /** Creates a stream waiting for its client; the readers of the plan are the stream's from now on. */
  open(plan: StreamPlan, owner: { controlSessionId: number; host: string }): StreamGrant;
  get(replaySessionId: number): StreamSession | undefined;
  readonly size: number;
  forEach(fn: (s: StreamSession) => void): void;
}

export interface StreamManagerDeps {
  /** The stream endpoint, listening; absent: StreamReplayRequest is refused. */
  server?: TransportServer;
  store: ArchiveStore;
  notifications: NotificationProxy;
  counters: ArchiverCounters;
  clock: ArchiverClock;
  log: ArchiverLog;
  /** Replay ids are shared with UDP replays. */
  nextId(): number;
  isRecordingActive(recordingId: number): boolean;
  /** Whether a recording known by any of these names (primary or alias) is live. */
  channelsLive(channels: readonly string[]): boolean;
}

export class StreamManager implements Agent, StreamOps {
  readonly roleName = 'streams';
  private readonly worker: SessionWorker<StreamSession>;
  private readonly byToken = new Map<bigint, StreamSession>();
  private readonly handshakes = new StreamHandshakes(HELLO_TIMEOUT_NS);
  private readonly onAccepted = (c: Connection): void => this.handshakes.add(c, this.deps.clock.nanoTime());
  private readonly onHello = (c: Connection, token: bigint): void => this.hello(c, token);

  constructor(private readonly deps: StreamManagerDeps) {
    this.worker = new SessionWorker<StreamSession>('streams', {
      onSessionError: (s, err) => s.fail(err),
      onSessionClosed: (s) => this.reap(s),
    });
  }

  get enabled(): boolean {
    return this.deps.server !== undefined;
  }

  get size(): number {
    return this.worker.size;
  }

  /** Connections waiting to present a token. */
  get handshaking(): number {
    return this.handshakes.size;
  }

  open(plan: StreamPlan, owner: { controlSessionId: number; host: string }): StreamGrant {
    const server = this.deps.server;
    if (!server) {
      for (const i of plan.inputs) i.reader.close();
      throw new VcrError(ErrorCode.NOT_ALLOWED, 'this archiver has no stream endpoint');
    }
    const { clock } = this.deps;
    const channels = plan.followChannels ?? [];
    const options: StreamMergeOptions = {
      fromUtcNs: plan.fromUtcNs,
      toUtcNs: plan.toUtcNs,
      awaitNewInputs: plan.followChannels !== undefined,
      isRecordingActive: (id) => this.deps.isRecordingActive(id),
      channelsLive: () => this.deps.channelsLive(channels),
      nowUtcNs: () => clock.epochNanos(),
    };
    const token = this.newToken();
    const session = new StreamSession(
      this.deps.nextId(),
      new StreamMerge(plan.inputs, options),
      {
        owner,
        token,
        connectDeadlineNs: clock.nanoTime() + STREAM_CONNECT_TIMEOUT_NS,
        fromUtcNs: plan.fromUtcNs,
        toUtcNs: plan.toUtcNs,
        ...(plan.followChannels ? { followChannels: plan.followChannels } : {}),
      },
      () => clock.nanoTime(),
    );
    session.onStarted = (s) => this.announce(s);
    this.worker.add(session);
    this.byToken.set(token, session);
    return { replaySessionId: session.sessionId, token, endpoint: server.address };
  }

  get(replaySessionId: number): StreamSession | undefined {
    return this.worker.find(replaySessionId);
  }

  forEach(fn: (s: StreamSession) => void): void {
    this.worker.forEach(fn);
  }

  /** Stops the streams a control session started (it closed or timed out). */
  stopOwnedBy(controlSessionId: number, reason: StopReasonName): void {
    this.worker.forEach((s) => {
      if (s.owner.controlSessionId === controlSessionId) s.stop(reason);
    });
  }

  /** A new recording: follow reads over channels that name it take it on, from its start. */
  recordingStarted(rs: RecordingSession): void {
    this.worker.forEach((s) => {
      const channels = s.options.followChannels;
      if (!channels || s.isDone() || !channels.some((c) => matchesChannel(rs, c))) return;
      try {
        const info = this.deps.store.describe(rs.recordingId);
        if (!info || (s.options.toUtcNs !== null && info.startUtcNs > s.options.toUtcNs)) return;
        s.addInput({
          recordingId: rs.recordingId,
          channel: info.channel,
          reader: this.deps.store.openReader(rs.recordingId, info.startPosition, true),
          endPosition: Infinity,
          follow: true,
        });
      } catch (err) {
        this.deps.log.warn({ replaySessionId: s.sessionId, recordingId: rs.recordingId, error: String(err) }, 'stream could not follow a new recording');
      }
    });
  }

  doWork(): number {
    const now = this.deps.clock.nanoTime();
    let work = this.deps.server?.poll(this.onAccepted) ?? 0;
    if (this.handshakes.size > 0) work += this.handshakes.poll(now, this.onHello);
    work += this.worker.doWork();
    return work;
  }

  onClose(): void {
    this.handshakes.close();
    this.worker.onClose();
    this.byToken.clear();
  }

  private hello(c: Connection, token: bigint): void {
    const s = this.byToken.get(token);
    if (!s) {
      this.deps.counters.add('rejected');
      refuse(c, ErrorCode.NOT_ALLOWED, 'unknown or already used stream token');
      return;
    }
    if (normalizeHost(c.remoteAddress) !== normalizeHost(s.owner.host)) {
      // the token stays valid for its own client: a stranger who learnt it cannot burn it
      this.deps.counters.add('rejected');
      refuse(c, ErrorCode.SESSION_ADDRESS_MISMATCH, 'this stream belongs to another address');
      return;
    }
    this.byToken.delete(token);
    s.attach(c);
  }

  private newToken(): bigint {
    for (;;) {
      const t = randomBytes(8).readBigUInt64LE(0);
      if (t !== 0n && !this.byToken.has(t)) return t;
    }
  }

  private announce(s: StreamSession): void {
    this.deps.counters.add('replaysStarted');
    this.deps.notifications.replayStarted(s.sessionId, s.recordingCount, s.options.fromUtcNs, s.options.toUtcNs, 0);
  }

  private reap(s: StreamSession): void {
    this.byToken.delete(s.token);
    if (!s.started) {
      this.deps.log.info({ replaySessionId: s.sessionId, reason: s.errorMessage || s.endReason }, 'stream ended before its client connected');
      return;
    }
    const { counters, notifications } = this.deps;
    counters.add('replaysEnded');
    counters.add('replayEvents', s.eventsSent);
    counters.add('replayBytes', s.bytesSent);
    if (s.errorCode !== ErrorCode.OK) counters.add('errors');
    notifications.replayEnded(s.sessionId, s.eventsSent, s.bytesSent, s.endReason ?? 'REQUESTED', s.errorCode, s.errorMessage);
  }
}

/** An IPv4 address as IPv4 whether or not it came through a dual-stack socket (::ffff:a.b.c.d). */
function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('::ffff:') && h.includes('.') ? h.slice(7) : h;
}
