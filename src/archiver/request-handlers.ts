/**
 * What each control request does, once the conductor has matched it to a session and checked
 * it is not a duplicate. A handler streams its data messages into `answer.data` and returns the
 * final response's relevantId (or 'pending' when the answer comes later, as for a recording
 * whose source is still opening); failures are thrown as VcrError and become an ERROR response.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiverConductor, ConductorDeps } from './archiver-conductor.js';
import { channelViews, filterRecordings, matchesChannel, overlaps, resolveChannel } from './catalog-queries.js';
import type { SessionRequest } from './control-requests.js';
import type { ControlSession } from './control-session.js';
import { ReadHandler } from './read-handler.js';
import { ReplaySession, type ReplayStream } from './replay-session.js';
import { parseUdpEndpoint } from './udp-endpoint.js';

export interface Answer {
  data: Buffer[];
}

const MAX_NAME_BYTES = 256;
const MAX_SOURCE_BYTES = 4096;
const MAX_LIST = 100_000;

function checkName(name: string, what: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} must be 1 to ${MAX_NAME_BYTES} bytes`);
  }
  if (/[\u0000-\u001f\u007f\s]/.test(name)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} ${JSON.stringify(name)} contains whitespace or control characters`);
  }
}

function checkInterval(from: bigint, to: bigint): void {
  if (from > to) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `interval from ${from} is after to ${to}`);
}

export class RequestHandlers {
  private readonly reads: ReadHandler;

  constructor(
    private readonly deps: ConductorDeps,
    private readonly conductor: ArchiverConductor,
  ) {
    this.reads = new ReadHandler(deps.store);
  }

  handle(s: ControlSession, r: SessionRequest, answer: Answer): number | 'pending' {
    const sid = s.sessionId;
    const corr = r.correlationId;
    const { store, responses } = this.deps;
    switch (r.type) {
      case 'close':
      case 'keepAlive':
        return 0;
      case 'subscribe':
        s.mask = r.mask;
        return r.mask;
      case 'startRecording':
        this.checkStart(r.channel, r.aliases, r.source);
        this.conductor.startRecording(r.channel, r.aliases, r.source, { sessionId: s.sessionId, correlationId: corr });
        return 'pending';
      case 'stopRecording':
        return this.stopRecording(r.recordingId, r.channel);
      case 'replay':
        return this.replay(s, r);
      case 'timeReplay':
        return this.timeReplay(s, r);
      case 'stopReplay': {
        const rp = this.conductor.replays.get(r.replaySessionId);
        if (!rp) throw new VcrError(ErrorCode.UNKNOWN_REPLAY, `no replay session ${r.replaySessionId}`);
        rp.stop('REQUESTED');
        return r.replaySessionId;
      }
      case 'read': {
        this.deps.counters.add('readRequests');
        const res = this.reads.read(r.recordingId, r.position, r.fragmentOffset, r.maxBytes, r.toUtcNs);
        this.deps.counters.add('readBytes', res.payloadBytes);
        answer.data.push(
          responses.readChunk(sid, corr, r.recordingId, res.nextPosition, res.nextFragmentOffset, res.endOfRecording, res.events),
        );
        return res.nextPosition;
      }
      case 'listRecordings': {
        const found = filterRecordings(store.listRecordings(), { ...r, maxCount: Math.min(r.maxCount || MAX_LIST, MAX_LIST) }, this.now());
        for (const info of found) answer.data.push(responses.recordingDescriptor(sid, corr, info));
        return found.length;
      }
      case 'describe': {
        const info = store.describe(r.recordingId);
        if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
        answer.data.push(responses.recordingDescriptor(sid, corr, info));
        return r.recordingId;
      }
      case 'position': {
        const live = this.conductor.recordings.find((x) => x.recordingId === r.recordingId && x.isActive());
        if (live) return live.position;
        const info = store.describe(r.recordingId);
        if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
        return info.stopPosition;
      }
      case 'findPosition': {
        if (!store.describe(r.recordingId)) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
        return store.findPosition(r.recordingId, r.utcNs);
      }
      case 'listChannels': {
        const active = new Map<string, number>();
        for (const rs of this.conductor.recordings) if (rs.recordingId >= 0 && rs.isActive()) active.set(rs.channel, rs.recordingId);
        const views = channelViews(store.listRecordings(), active);
        for (const v of views) answer.data.push(responses.channelDescriptor(sid, corr, v));
        return views.length;
      }
      case 'stats': {
        const snapshot = this.deps.counters.snapshot();
        // live replays by id, so a client whose ReplayEnded notification was lost can tell
        for (const [id, rp] of this.conductor.replays) snapshot.push([`replay.${id}.eventsSent`, rp.eventsSent]);
        answer.data.push(...responses.statsSnapshots(sid, corr, this.now(), snapshot));
        return snapshot.length;
      }
      case 'addQuarantine': {
        checkInterval(r.fromUtcNs, r.toUtcNs);
        const channel = r.channel === '' ? '' : (resolveChannel(store.listRecordings(), r.channel) ?? r.channel);
        if (channel !== '') checkName(channel, 'channel');
        return store.addQuarantine(channel, r.fromUtcNs, r.toUtcNs);
      }
      case 'removeQuarantine':
        this.checkDestructive('quarantine remove');
        store.removeQuarantine(r.quarantineId);
        return r.quarantineId;
      case 'listQuarantines': {
        const qs = store.listQuarantines();
        for (const q of qs) answer.data.push(responses.quarantineDescriptor(sid, corr, q));
        return qs.length;
      }
      case 'delete': {
        this.checkDestructive('delete');
        checkInterval(r.fromUtcNs, r.toUtcNs);
        const channel = r.channel === '' ? '' : (resolveChannel(store.listRecordings(), r.channel) ?? r.channel);
        return store.deleteEvents(channel, r.fromUtcNs, r.toUtcNs);
      }
      case 'clusterStatus': {
        const u = store.usage();
        answer.data.push(
          responses.clusterStatus(sid, corr, {
            k: 1,
            underReplicatedSegments: 0,
            repairing: false,
            nodes: [{ id: 'local', up: true, segments: u.segments, bytes: u.bytes }],
          }),
        );
        return 1;
      }
      default: {
        const never: never = r;
        throw new VcrError(ErrorCode.UNKNOWN_TEMPLATE, `unhandled request ${(never as { type: string }).type}`);
      }
    }
  }

  private now(): bigint {
    return this.deps.clock.epochNanos();
  }

  private checkDestructive(what: string): void {
    if (!this.deps.config.allowDestructive) throw new VcrError(ErrorCode.NOT_ALLOWED, `${what} is disabled on this archiver`);
  }

  /** Validates a start (names, limits, conflicts with active recordings). */
  checkStart(channel: string, aliases: string[], source: string): void {
    checkName(channel, 'channel');
    if (aliases.length > 32) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'at most 32 aliases');
    for (const a of aliases) checkName(a, 'alias');
    const bytes = Buffer.byteLength(source);
    if (bytes === 0 || bytes > MAX_SOURCE_BYTES) throw new VcrError(ErrorCode.INVALID_SOURCE, `source must be 1 to ${MAX_SOURCE_BYTES} bytes`);
    const names = [channel, ...aliases];
    for (const rs of this.conductor.recordings) {
      if (!rs.isActive()) continue;
      if (names.some((n) => matchesChannel(rs, n))) {
        throw new VcrError(ErrorCode.CHANNEL_ALREADY_RECORDING, `channel ${rs.channel} is already recording (recording ${rs.recordingId})`);
      }
    }
    for (const info of this.deps.store.listRecordings()) {
      for (const n of names) {
        if (info.channel !== channel && matchesChannel(info, n)) {
          throw new VcrError(ErrorCode.INVALID_ARGUMENT, `name ${n} already belongs to channel ${info.channel}`);
        }
      }
    }
    const active = this.conductor.recordings.filter((x) => x.isActive()).length;
    if (active >= this.deps.config.limits.maxRecordings) {
      throw new VcrError(ErrorCode.MAX_RECORDINGS, `${active} recordings are active (limit ${this.deps.config.limits.maxRecordings})`);
    }
  }

  private stopRecording(recordingId: number | null, channel: string): number {
    const rs = this.conductor.recordings.find(
      (x) => x.isActive() && (recordingId !== null ? x.recordingId === recordingId : matchesChannel(x, channel)),
    );
    if (rs) {
      rs.stop('REQUESTED');
      return rs.recordingId;
    }
    if (recordingId !== null) {
      const info = this.deps.store.describe(recordingId);
      if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${recordingId}`);
      return recordingId; // already stopped: stopping again is not an error
    }
    throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `channel ${JSON.stringify(channel)} is not recording`);
  }

  private checkReplayLimit(): void {
    const max = this.deps.config.limits.maxReplays;
    if (this.conductor.replays.size >= max) throw new VcrError(ErrorCode.MAX_REPLAYS, `${max} replays are active (the limit)`);
  }

  private replay(s: ControlSession, r: Extract<SessionRequest, { type: 'replay' }>): number {
    this.checkReplayLimit();
    const { store } = this.deps;
    const info = store.describe(r.recordingId);
    if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
    const ep = parseUdpEndpoint(r.destination);
    const position = r.position ?? info.startPosition;
    const live = this.conductor.isRecordingActive(r.recordingId);
    if (position < info.startPosition || (!live && position > info.stopPosition)) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `position ${position} is outside recording ${r.recordingId}`);
    }
    const reader = store.openReader(r.recordingId, position, r.follow);
    const stream: ReplayStream = {
      recordingId: r.recordingId,
      reader,
      destination: ep,
      sender: this.deps.createReplaySender(ep),
      endPosition: r.length === null ? Infinity : position + r.length,
    };
    const rp = this.conductor.addReplay(s.sessionId, (id) => this.newReplay(id, s.sessionId, [stream], r.speed, r.follow, null));
    this.deps.notifications.replayStarted(rp.sessionId, 1, null, null, r.speed);
    return rp.sessionId;
  }

  private timeReplay(s: ControlSession, r: Extract<SessionRequest, { type: 'timeReplay' }>): number {
    this.checkReplayLimit();
    if (r.channels.length === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a time replay needs at least one channel');
    if (r.fromUtcNs !== null && r.toUtcNs !== null) checkInterval(r.fromUtcNs, r.toUtcNs);
    const { store } = this.deps;
    const all = store.listRecordings();
    const now = this.now();
    const plan: { recordingId: number; position: number; ep: ReturnType<typeof parseUdpEndpoint> }[] = [];
    for (const c of r.channels) {
      const ep = parseUdpEndpoint(c.destination);
      const recs = all.filter((x) => matchesChannel(x, c.channel) && x.state !== 'deleted' && x.state !== 'invalid');
      if (recs.length === 0) throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `no recordings of channel ${JSON.stringify(c.channel)}`);
      for (const x of recs) {
        if (!overlaps(x, r.fromUtcNs, r.toUtcNs, now)) continue;
        const position = r.fromUtcNs !== null ? store.findPosition(x.recordingId, r.fromUtcNs) : x.startPosition;
        plan.push({ recordingId: x.recordingId, position, ep });
      }
    }
    const streams: ReplayStream[] = [];
    try {
      for (const p of plan) {
        streams.push({
          recordingId: p.recordingId,
          reader: store.openReader(p.recordingId, p.position, r.follow),
          destination: p.ep,
          sender: this.deps.createReplaySender(p.ep),
          endPosition: Infinity,
        });
      }
    } catch (err) {
      for (const st of streams) {
        st.reader.close();
        st.sender.close();
      }
      throw err;
    }
    const rp = this.conductor.addReplay(s.sessionId, (id) => this.newReplay(id, s.sessionId, streams, r.speed, r.follow, r.toUtcNs));
    this.deps.notifications.replayStarted(rp.sessionId, streams.length, r.fromUtcNs, r.toUtcNs, r.speed);
    return rp.sessionId;
  }

  private newReplay(id: number, controlSessionId: number, streams: ReplayStream[], speed: number, follow: boolean, toUtcNs: bigint | null): ReplaySession {
    const clock = this.deps.clock;
    return new ReplaySession(
      id,
      controlSessionId,
      streams,
      { speed, follow, toUtcNs },
      () => clock.nanoTime(),
      (recordingId) => this.conductor.isRecordingActive(recordingId),
    );
  }
}
