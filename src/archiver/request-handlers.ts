/**
 * What each control request does, once the conductor has matched it to its session and checked
 * it is not a duplicate. A handler streams its data messages into `ctx.answer.data` and returns
 * the final response's relevantId, or 'pending' when the answer comes later (ctx.defer(): a
 * recording whose source is still opening, a replay whose sockets are being set up); failures
 * are thrown as VcrError and become an ERROR response.
 *
 * Handlers reach recordings and replays only through RecordingOps / ReplayOps and the archive
 * through the ArchiveStore port: they hold no state of their own.
 */
import { quoteForMessage } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiveTierOps } from './archive-scheduler.js';
import type { ArchiverConfig } from './archiver-config.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverClock } from './archiver-services.js';
import { channelViews, filterRecordings, matchesChannel, overlaps, resolveChannel } from './catalog-queries.js';
import { checkName, checkStart } from './channel-rules.js';
import { deletePreview } from './delete-preview.js';
import { eventRates } from './event-rates.js';
import type { SessionRequest } from './control-requests.js';
import type { ControlResponseProxy } from './control-response-proxy.js';
import { checkMulticastInterface, checkNotOwnEndpoint, type BoundAddress } from './destination-checks.js';
import type { ArchiveStore } from './ports.js';
import { ReadHandler, type ReadResult } from './read-handler.js';
import type { RecordingOps } from './recording-manager.js';
import type { FollowedChannel, ReplayOps } from './replay-manager.js';
import { ReplaySession, type ReplayOptions, type ReplaySender, type ReplayStream } from './replay-session.js';
import type { DeferredAnswer, RequestContext } from './request-context.js';
import type { RetentionOps } from './retention-manager.js';
import type { StreamOps, StreamPlan } from './stream-manager.js';
import type { StreamInputSpec } from './stream-merge.js';
import { parseUdpEndpoint, type UdpEndpoint } from './udp-endpoint.js';

const MAX_LIST = 100_000;
/**
 * How long a cluster read waits for bytes fetched from a holder before it answers
 * REPLICA_UNAVAILABLE: below what a default client waits in all (3 attempts of 1,000 ms), so the
 * client gets that answer rather than a timeout. A read that waited only for the first bytes of
 * a fetch answers as soon as they came; the client asks again from there.
 */
const REMOTE_READ_WAIT_NS = 2_000_000_000n;

export interface HandlerDeps {
  config: ArchiverConfig;
  store: ArchiveStore;
  recordings: RecordingOps;
  replays: ReplayOps;
  streams: StreamOps;
  responses: ControlResponseProxy;
  counters: ArchiverCounters;
  clock: ArchiverClock;
  /** The control endpoint as bound (replays may not be sent there). */
  controlAddress: () => BoundAddress | undefined;
  createReplaySender: (ep: UdpEndpoint) => ReplaySender;
  /** Retention passes (absent: retention requests are refused NOT_ALLOWED). */
  retention?: RetentionOps;
  /** The archive tier (archive-scheduler.ts); absent: its requests are refused. */
  archiveTier?: ArchiveTierOps;
}

function checkInterval(from: bigint, to: bigint): void {
  if (from > to) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `interval from ${from} is after to ${to}`);
}

/** Requests that read the cluster view or recorded bytes: in cluster mode they wait for the read barrier. */
const BARRIER_REQUESTS: ReadonlySet<SessionRequest['type']> = new Set([
  'replay',
  'timeReplay',
  'streamReplay',
  'read',
  'listRecordings',
  'describe',
  'position',
  'findPosition',
  'listChannels',
  'listQuarantines',
  'startRecording',
  'delete',
  'addQuarantine',
  'eventRates',
  'deletePreview',
  'retentionDryRun',
  'retentionRun',
]);

function fail(answer: DeferredAnswer, err: unknown): void {
  const e = err instanceof VcrError ? err : new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err));
  answer.error(e.code, e.message);
}

/** One recording a stream reads, before its start position is known for certain. */
interface StreamTarget {
  recordingId: number;
  channel: string;
  position: number | Promise<number>;
  length: number | null;
  /** Set for a single-recording stream: the position given must lie inside it. */
  check: { startPosition: number; stopPosition: number } | null;
}

export class RequestHandlers {
  private readonly reads: ReadHandler;

  constructor(private readonly deps: HandlerDeps) {
    this.reads = new ReadHandler(deps.store);
  }

  /**
   * Runs a request. A store that needs a read barrier first (cluster mode: `prepare`) and
   * handlers whose store operation completes later (etcd) answer through a DeferredAnswer.
   */
  handle(ctx: RequestContext, r: SessionRequest): number | 'pending' {
    const store = this.deps.store;
    if (store.prepare && BARRIER_REQUESTS.has(r.type)) {
      const answer = ctx.defer();
      const inner: RequestContext = { ...ctx, answer: { data: [] }, defer: () => answer };
      store.prepare().then(
        () => this.settle(answer, inner, () => this.handleNow(inner, r)),
        (err: unknown) => fail(answer, err),
      );
      return 'pending';
    }
    const result = this.handleNow(ctx, r);
    if (!(result instanceof Promise)) return result;
    const answer = ctx.defer();
    result.then(
      (v) => answer.ok(v, ctx.answer.data),
      (err: unknown) => fail(answer, err),
    );
    return 'pending';
  }

  /**
   * In a cluster a read may reach a segment this node does not hold: its bytes are being fetched
   * from a holder, and an empty chunk that got nowhere would tell the client nothing. Such a
   * read is answered once bytes arrived (or with REPLICA_UNAVAILABLE when none did in time); a
   * chunk whose reader moved on (past hidden events) is answered at once.
   */
  private awaitingRemoteBytes(recordingId: number, position: number, res: ReadResult): boolean {
    if (this.deps.store.prepare === undefined) return false; // single node: every byte is local
    if (res.events.length > 0 || res.endOfRecording || res.nextFragmentOffset !== 0 || res.nextPosition !== position) return false;
    const info = this.deps.store.describe(recordingId);
    return info !== undefined && info.state !== 'recording' && position < info.stopPosition;
  }

  private retryRead(recordingId: number, position: number, read: () => ReadResult): Promise<ReadResult> {
    const deadline = this.now() + REMOTE_READ_WAIT_NS;
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        try {
          const res = read();
          if (res.events.length > 0 || res.endOfRecording || res.nextPosition !== position) return resolve(res);
          if (this.now() > deadline) {
            return reject(new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `recording ${recordingId}: no holder delivered the bytes in ${Number(REMOTE_READ_WAIT_NS / 1_000_000n)} ms`));
          }
          setTimeout(attempt, 5);
        } catch (err) {
          reject(err);
        }
      };
      setTimeout(attempt, 2);
    });
  }

  private settle(answer: DeferredAnswer, ctx: RequestContext, run: () => number | 'pending' | Promise<number>): void {
    try {
      const result = run();
      if (result === 'pending') return; // the handler completes the answer itself
      if (result instanceof Promise) {
        result.then(
          (v) => answer.ok(v, ctx.answer.data),
          (err: unknown) => fail(answer, err),
        );
      } else answer.ok(result, ctx.answer.data);
    } catch (err) {
      fail(answer, err);
    }
  }

  private handleNow(ctx: RequestContext, r: SessionRequest): number | 'pending' | Promise<number> {
    const s = ctx.session;
    const sid = s.sessionId;
    const corr = r.correlationId;
    const { store, recordings, replays } = this.deps;
    const responses = ctx.responses ?? this.deps.responses;
    const data = ctx.answer.data;
    switch (r.type) {
      case 'close':
      case 'keepAlive':
        return 0;
      case 'subscribe':
        s.mask = r.mask;
        return r.mask;
      case 'startRecording': {
        const spec = { channel: r.channel, aliases: r.aliases, source: r.source };
        checkStart(spec, recordings.active(), store.listRecordings(), this.deps.config.limits.maxRecordings);
        recordings.start(spec, ctx.defer());
        return 'pending';
      }
      case 'stopRecording':
        return this.stopRecording(r.recordingId, r.channel);
      case 'replay':
        return this.replay(ctx, r);
      case 'timeReplay':
        return this.timeReplay(ctx, r);
      case 'stopReplay': {
        const rp = replays.get(r.replaySessionId) ?? this.deps.streams.get(r.replaySessionId);
        if (!rp) throw new VcrError(ErrorCode.UNKNOWN_REPLAY, `no replay session ${r.replaySessionId}`);
        rp.stop('REQUESTED');
        return r.replaySessionId;
      }
      case 'read': {
        this.deps.counters.add('readRequests');
        const answer = (res: ReadResult): number => {
          this.deps.counters.add('readBytes', res.payloadBytes);
          data.push(responses.readChunk(sid, corr, r.recordingId, res.nextPosition, res.nextFragmentOffset, res.endOfRecording, res.events));
          return res.nextPosition;
        };
        const read = (): ReadResult => this.reads.read(r.recordingId, r.position, r.fragmentOffset, r.maxBytes, r.toUtcNs);
        const res = read();
        if (!this.awaitingRemoteBytes(r.recordingId, r.position, res)) return answer(res);
        return this.retryRead(r.recordingId, r.position, read).then(answer);
      }
      case 'listRecordings': {
        const found = filterRecordings(store.listRecordings(), { ...r, maxCount: Math.min(r.maxCount || MAX_LIST, MAX_LIST) }, this.now());
        for (const info of found) data.push(responses.recordingDescriptor(sid, corr, info));
        return found.length;
      }
      case 'describe': {
        const info = store.describe(r.recordingId);
        if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
        data.push(responses.recordingDescriptor(sid, corr, info));
        return r.recordingId;
      }
      case 'position': {
        const live = recordings.findActive(r.recordingId);
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
        for (const rs of recordings.active()) if (rs.recordingId >= 0) active.set(rs.channel, rs.recordingId);
        const views = channelViews(store.listRecordings(), active);
        for (const v of views) data.push(responses.channelDescriptor(sid, corr, v));
        return views.length;
      }
      case 'stats': {
        const snapshot = this.deps.counters.snapshot();
        // live replays by id, so a client whose ReplayEnded notification was lost can tell
        replays.forEach((rp) => snapshot.push([`replay.${rp.sessionId}.eventsSent`, rp.eventsSent]));
        this.deps.streams.forEach((st) => snapshot.push([`replay.${st.sessionId}.eventsSent`, st.eventsSent]));
        data.push(...responses.statsSnapshots(sid, corr, this.now(), snapshot));
        return snapshot.length;
      }
      case 'archiveRun':
        return this.archiveTier().run(r.dryRun);
      case 'archiveStatus':
        data.push(responses.archiveStatus(sid, corr, this.archiveTier().status()));
        return 1;
      case 'addQuarantine': {
        checkInterval(r.fromUtcNs, r.toUtcNs);
        const channel = r.channel === '' ? '' : (resolveChannel(store.listRecordings(), r.channel) ?? r.channel);
        if (channel !== '') checkName(channel, 'channel');
        return store.addQuarantine(channel, r.fromUtcNs, r.toUtcNs);
      }
      case 'removeQuarantine': {
        this.checkDestructive('quarantine remove');
        const removed = store.removeQuarantine(r.quarantineId);
        return removed instanceof Promise ? removed.then(() => r.quarantineId) : r.quarantineId;
      }
      case 'listQuarantines': {
        const qs = store.listQuarantines();
        for (const q of qs) data.push(responses.quarantineDescriptor(sid, corr, q));
        return qs.length;
      }
      case 'delete': {
        this.checkDestructive('delete');
        checkInterval(r.fromUtcNs, r.toUtcNs);
        const channel = r.channel === '' ? '' : (resolveChannel(store.listRecordings(), r.channel) ?? r.channel);
        return store.deleteEvents(channel, r.fromUtcNs, r.toUtcNs);
      }
      case 'streamReplay':
        return this.streamReplay(ctx, r);
      case 'clusterStatus': {
        const status = store.clusterStatus?.();
        if (status) {
          data.push(responses.clusterStatus(sid, corr, status));
          return status.nodes.length;
        }
        const u = store.usage();
        data.push(
          responses.clusterStatus(sid, corr, {
            k: 1,
            underReplicatedSegments: 0,
            repairing: false,
            bytesToRepair: 0,
            nodes: [{ id: 'local', up: true, ready: true, segments: u.segments, bytes: u.bytes, lagBytes: 0, lagMs: 0 }],
          }),
        );
        return 1;
      }
      case 'eventRates': {
        if (r.toUtcNs <= r.fromUtcNs) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `interval from ${r.fromUtcNs} must be before to ${r.toUtcNs}`);
        const live = (x: { recordingId: number; stopPosition: number }): number => recordings.findActive(x.recordingId)?.position ?? x.stopPosition;
        const rates = eventRates(store.listRecordings(), r, this.now(), live, (id) => store.timeIndex?.(id));
        for (const c of rates) data.push(responses.eventRates(sid, corr, r.fromUtcNs, r.toUtcNs, c));
        return rates.length;
      }
      case 'deletePreview': {
        checkInterval(r.fromUtcNs, r.toUtcNs);
        return deletePreview(store, r, this.now()).then((p) => {
          data.push(responses.deletePreview(sid, corr, p));
          return p.events;
        });
      }
      case 'retentionDryRun':
      case 'retentionRun': {
        const dryRun = r.type === 'retentionDryRun';
        if (!dryRun) this.checkDestructive('retention run');
        const ops = this.deps.retention;
        if (!ops) throw new VcrError(ErrorCode.NOT_ALLOWED, 'this archiver runs no retention');
        return ops.start(dryRun).then((res) => {
          for (const e of res.entries) data.push(responses.retentionEntry(sid, corr, res.runId, e));
          return res.events;
        });
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

  private archiveTier(): ArchiveTierOps {
    if (!this.deps.archiveTier) throw new VcrError(ErrorCode.NOT_ALLOWED, 'this archiver has no archive tier');
    return this.deps.archiveTier;
  }

  private checkDestructive(what: string): void {
    if (!this.deps.config.allowDestructive) throw new VcrError(ErrorCode.NOT_ALLOWED, `${what} is disabled on this archiver`);
  }

  private stopRecording(recordingId: number | null, channel: string): number | Promise<number> {
    const { recordings, store } = this.deps;
    const rs = recordingId !== null ? recordings.findActive(recordingId) : recordings.findActiveByName(channel);
    if (rs) {
      rs.stop('REQUESTED');
      const id = rs.recordingId;
      // in a cluster the answer waits (briefly) until the stop is published, so a read on any node after it sees the end
      return store.whenStopped ? store.whenStopped(id).then(() => id) : id;
    }
    if (recordingId !== null) {
      const info = this.deps.store.describe(recordingId);
      if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${recordingId}`);
      return recordingId; // already stopped: stopping again is not an error
    }
    throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `channel ${quoteForMessage(channel)} is not recording`);
  }

  private checkReplayLimit(): void {
    const max = this.deps.config.limits.maxReplays;
    if (this.deps.replays.size + this.deps.streams.size >= max) throw new VcrError(ErrorCode.MAX_REPLAYS, `${max} replays are active (the limit)`);
  }

  /** A replay destination, checked: parsed, not this archiver, a multicast interface of this host. */
  private destination(uri: string): UdpEndpoint {
    const ep = parseUdpEndpoint(uri);
    checkNotOwnEndpoint('destination', ep.host, ep.port, this.deps.controlAddress());
    if (ep.interface !== undefined) checkMulticastInterface('destination', ep.interface);
    return ep;
  }

  private replay(ctx: RequestContext, r: Extract<SessionRequest, { type: 'replay' }>): 'pending' {
    this.checkReplayLimit();
    const { store, recordings, replays } = this.deps;
    const info = store.describe(r.recordingId);
    if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
    const ep = this.destination(r.destination);
    const position = r.position ?? info.startPosition;
    const live = recordings.isActive(r.recordingId);
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
    const rp = this.newReplay([stream], { speed: r.speed, follow: r.follow, toUtcNs: null });
    replays.add(rp, { owner: ctx.session.sessionId, answer: ctx.defer(), fromUtcNs: null, toUtcNs: null, speed: r.speed });
    return 'pending';
  }

  private timeReplay(ctx: RequestContext, r: Extract<SessionRequest, { type: 'timeReplay' }>): 'pending' {
    this.checkReplayLimit();
    if (r.channels.length === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a time replay needs at least one channel');
    if (r.fromUtcNs !== null && r.toUtcNs !== null) checkInterval(r.fromUtcNs, r.toUtcNs);
    const { store, recordings } = this.deps;
    const all = store.listRecordings();
    const now = this.now();
    const channels = r.channels.map((c) => ({ channel: c.channel, ep: this.destination(c.destination) }));
    const plan: { recordingId: number; position: number | Promise<number>; channel: number }[] = [];
    channels.forEach((c, i) => {
      const recs = all.filter((x) => matchesChannel(x, c.channel) && x.state !== 'deleted' && x.state !== 'invalid');
      if (recs.length === 0 && !(r.follow && recordings.findActiveByName(c.channel))) {
        throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `no recordings of channel ${quoteForMessage(c.channel)}`);
      }
      for (const x of recs) {
        if (!overlaps(x, r.fromUtcNs, r.toUtcNs, now)) continue;
        const position = r.fromUtcNs !== null ? store.findPosition(x.recordingId, r.fromUtcNs) : x.startPosition;
        plan.push({ recordingId: x.recordingId, position, channel: i });
      }
    });
    if (plan.some((p) => p.position instanceof Promise)) {
      // a cluster finds positions in segments held elsewhere asynchronously
      const answer = ctx.defer();
      Promise.all(plan.map((p) => p.position)).then(
        (positions) => this.settle(answer, ctx, () => this.startTimeReplay(ctx, r, channels, plan.map((p, i) => ({ ...p, position: positions[i]! })))),
        (err: unknown) => fail(answer, err),
      );
      return 'pending';
    }
    return this.startTimeReplay(ctx, r, channels, plan as { recordingId: number; position: number; channel: number }[]);
  }

  private startTimeReplay(
    ctx: RequestContext,
    r: Extract<SessionRequest, { type: 'timeReplay' }>,
    channels: { channel: string; ep: UdpEndpoint }[],
    plan: { recordingId: number; position: number; channel: number }[],
  ): 'pending' {
    const { store } = this.deps;
    // one sender per requested channel: its recordings (and, with follow, later ones) share it
    const senders = channels.map((c) => this.deps.createReplaySender(c.ep));
    const streams: ReplayStream[] = [];
    try {
      for (const p of plan) {
        streams.push({
          recordingId: p.recordingId,
          reader: store.openReader(p.recordingId, p.position, r.follow),
          destination: channels[p.channel]!.ep,
          sender: senders[p.channel]!,
          endPosition: Infinity,
        });
      }
    } catch (err) {
      for (const st of streams) st.reader.close();
      for (const sender of senders) sender.close();
      throw err;
    }
    const follow: FollowedChannel[] | undefined = r.follow
      ? channels.map((c, i) => ({ channel: c.channel, destination: c.ep, sender: senders[i]! }))
      : undefined;
    const rp = this.newReplay(streams, {
      speed: r.speed,
      follow: r.follow,
      toUtcNs: r.toUtcNs,
      awaitNewRecordings: r.follow,
      nowUtcNs: () => this.now(),
      senders,
    });
    this.deps.replays.add(rp, {
      owner: ctx.session.sessionId,
      answer: ctx.defer(),
      fromUtcNs: r.fromUtcNs,
      toUtcNs: r.toUtcNs,
      speed: r.speed,
      ...(follow ? { follow } : {}),
    });
    return 'pending';
  }

  /**
   * A streamed replay (PROTOCOL.md "Streamed replay"): answered with a StreamGrant once the
   * start positions are known (at once on one node; later when a cluster finds a position of
   * fromUtcNs in a segment held elsewhere).
   */
  private streamReplay(ctx: RequestContext, r: Extract<SessionRequest, { type: 'streamReplay' }>): number | 'pending' {
    const { store, recordings, streams } = this.deps;
    if (!streams.enabled) throw new VcrError(ErrorCode.NOT_ALLOWED, 'this archiver has no stream endpoint');
    this.checkReplayLimit();
    if (r.fromUtcNs !== null && r.toUtcNs !== null) checkInterval(r.fromUtcNs, r.toUtcNs);
    const targets: StreamTarget[] = [];
    let followNames: string[] = [];
    if (r.recordingId !== null) {
      if (r.channels.length > 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a stream reads a recording or channels, not both');
      const info = store.describe(r.recordingId);
      if (!info) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${r.recordingId}`);
      const position = r.position ?? (r.fromUtcNs !== null ? store.findPosition(r.recordingId, r.fromUtcNs) : info.startPosition);
      targets.push({ recordingId: r.recordingId, channel: info.channel, position, length: r.length, check: info });
    } else {
      if (r.channels.length === 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'a stream needs a recordingId or at least one channel');
      if (r.position !== null || r.length !== null) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'position and length go with a recordingId');
      const all = store.listRecordings();
      const now = this.now();
      const taken = new Set<number>();
      // an alias names the channel (SPEC: a query by any name finds it), so later recordings
      // of the channel that were started without the alias are found by its primary name
      const names = new Set<string>(r.channels);
      for (const channel of r.channels) names.add(resolveChannel(all, channel) ?? channel);
      for (const channel of r.channels) {
        const primary = resolveChannel(all, channel) ?? channel;
        const recs = all.filter((x) => (matchesChannel(x, channel) || x.channel === primary) && x.state !== 'deleted' && x.state !== 'invalid');
        if (recs.length === 0 && !(r.follow && recordings.findActiveByName(channel))) {
          throw new VcrError(ErrorCode.UNKNOWN_CHANNEL, `no recordings of channel ${quoteForMessage(channel)}`);
        }
        for (const x of recs) {
          if (taken.has(x.recordingId) || !overlaps(x, r.fromUtcNs, r.toUtcNs, now)) continue;
          taken.add(x.recordingId);
          const position = r.fromUtcNs !== null ? store.findPosition(x.recordingId, r.fromUtcNs) : x.startPosition;
          targets.push({ recordingId: x.recordingId, channel: x.channel, position, length: null, check: null });
        }
      }
      followNames = [...names];
    }
    if (targets.some((t) => t.position instanceof Promise)) {
      const answer = ctx.defer();
      Promise.all(targets.map((t) => t.position)).then(
        (positions) => this.settle(answer, ctx, () => this.openStream(ctx, r, targets.map((t, i) => ({ ...t, position: positions[i]! })), followNames)),
        (err: unknown) => fail(answer, err),
      );
      return 'pending';
    }
    return this.openStream(ctx, r, targets, followNames);
  }

  /** Opens the readers of a stream's recordings and registers it; returns the replaySessionId. */
  private openStream(ctx: RequestContext, r: Extract<SessionRequest, { type: 'streamReplay' }>, targets: StreamTarget[], targetsNames: string[]): number {
    const { store, recordings, streams } = this.deps;
    const responses = ctx.responses ?? this.deps.responses;
    const plan: StreamPlan = { inputs: [], fromUtcNs: r.fromUtcNs, toUtcNs: r.toUtcNs };
    try {
      for (const t of targets) {
        const from = t.position as number;
        const info = t.check;
        if (info && (from < info.startPosition || (!recordings.isActive(t.recordingId) && from > info.stopPosition))) {
          throw new VcrError(ErrorCode.INVALID_POSITION, `position ${from} is outside recording ${t.recordingId} [${info.startPosition}, ${info.stopPosition}]`);
        }
        plan.inputs.push({
          recordingId: t.recordingId,
          channel: t.channel,
          reader: store.openReader(t.recordingId, from, r.follow),
          endPosition: t.length === null ? Infinity : from + t.length,
          follow: r.follow,
        } satisfies StreamInputSpec);
      }
      if (r.recordingId === null && r.follow) plan.followChannels = targetsNames;
    } catch (err) {
      for (const i of plan.inputs) i.reader.close();
      throw err;
    }
    const grant = streams.open(plan, { controlSessionId: ctx.session.sessionId, host: ctx.session.clientHost });
    ctx.answer.data.push(responses.streamGrant(ctx.session.sessionId, r.correlationId, grant));
    return grant.replaySessionId;
  }

  private newReplay(streams: ReplayStream[], options: ReplayOptions): ReplaySession {
    const clock = this.deps.clock;
    const recordings = this.deps.recordings;
    return new ReplaySession(this.deps.replays.nextId(), streams, options, () => clock.nanoTime());
  }
}
