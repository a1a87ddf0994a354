/**
 * The VCR client library (PROTOCOL.md): typed async methods over one control session.
 * ClientConnection owns the socket, the session, correlation and retries (same
 * correlationId) and keep-alives; this class turns each call into a request and each
 * answer into plain objects (types.ts). Failures are VcrError with the wire code, TIMEOUT
 * when the archiver does not answer. read()/events() are streamed replays (EventStream over
 * src/transport); readChunk() is the stateless UDP pull (PROTOCOL.md "Reliable pull reads"),
 * which event-reader.ts turns into iterators for when the stream endpoint is unreachable.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { Ids } from './control-request-proxy.js';
import type { DataMessage } from './control-response-adapter.js';
import type { RequestResult } from './pending-requests.js';
import type { NotificationHandler } from './notifications.js';
import { ClientConnection, type ConnectOptions } from './client-connection.js';
import { EventStream, type StreamTarget } from './event-stream.js';
import type { ChannelEventsOptions, ReadChunkRequest } from './event-reader.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import type {
  ChannelDescriptor,
  ChannelRates,
  DeletePreview,
  ClusterStatus,
  ListRecordingsFilter,
  QuarantineDescriptor,
  ReadChunk,
  RecordedEvent,
  RecordingDescriptor,
  RetentionReport,
  StatsSnapshot,
  ArchiveStatus,
  StreamGrant,
} from './types.js';

export type { ConnectOptions };

const PAGE = 100;

export type EventsOptions = ChannelEventsOptions;

/** What a streamed replay reads (docs/PROTOCOL.md "Streamed replay"). */
export type StreamRequest =
  | {
      recordingId: number;
      /** a frame boundary (default: the position of fromUtcNs, or the recording's start) */
      position?: number;
      /** bytes of the recording from position */
      length?: number;
      fromUtcNs?: bigint;
      /** stop before the first event later than this */
      toUtcNs?: bigint;
      /** keep going while the recording grows, until it stops */
      follow?: boolean;
    }
  | {
      /** primary names or aliases, merged in time order */
      channels: string[];
      fromUtcNs?: bigint;
      toUtcNs?: bigint;
      /** keep going while recordings grow; recordings of the channels that start later join */
      follow?: boolean;
    };

/** A wildcard host in a grant means "the host you reached the control endpoint at". */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

export class ArchiveClient {
  private constructor(private readonly conn: ClientConnection) {}

  /** Binds a socket, opens a control session and returns the connected client. */
  static async connect(opts: ConnectOptions): Promise<ArchiveClient> {
    return new ArchiveClient(await ClientConnection.open(opts));
  }

  get archiver(): Endpoint {
    return this.conn.archiver;
  }

  get sessionId(): number {
    return this.conn.sessionId;
  }

  /** Datagrams received that did not decode (counted, otherwise ignored). */
  get malformedCount(): number {
    return this.conn.malformedCount;
  }

  /** Requests re-sent so far. */
  get retryCount(): number {
    return this.conn.retryCount;
  }

  /** Retries, timeouts and keep-alives (also run by the connection's own timer). */
  doWork(): number {
    return this.conn.doWork();
  }

  async startRecording(p: { channel: string; source: string; aliases?: string[] }): Promise<number> {
    const r = await this.request('start recording', (ids) => this.conn.proxy.startRecording(ids, p.channel, p.source, p.aliases ?? []));
    return r.response.relevantId;
  }

  async stopRecording(p: { recordingId: number } | { channel: string }): Promise<number> {
    const r = await this.request('stop recording', (ids) =>
      'recordingId' in p ? this.conn.proxy.stopRecording(ids, p.recordingId, '') : this.conn.proxy.stopRecording(ids, null, p.channel),
    );
    return r.response.relevantId;
  }

  async replay(p: { recordingId: number; position?: number; length?: number; destination: string; speed?: number; follow?: boolean }): Promise<number> {
    const r = await this.request('replay', (ids) =>
      this.conn.proxy.replay(ids, {
        recordingId: p.recordingId,
        position: p.position ?? null,
        length: p.length ?? null,
        speed: p.speed ?? 1,
        follow: p.follow ?? false,
        destination: p.destination,
      }),
    );
    return r.response.relevantId;
  }

  async replayChannels(p: {
    channels: { channel: string; destination: string }[];
    fromUtcNs?: bigint;
    toUtcNs?: bigint;
    speed?: number;
    follow?: boolean;
  }): Promise<number> {
    const r = await this.request('time replay', (ids) =>
      this.conn.proxy.timeReplay(ids, {
        fromUtcNs: p.fromUtcNs ?? null,
        toUtcNs: p.toUtcNs ?? null,
        speed: p.speed ?? 1,
        follow: p.follow ?? false,
        channels: p.channels,
      }),
    );
    return r.response.relevantId;
  }

  async stopReplay(replaySessionId: number): Promise<void> {
    await this.request('stop replay', (ids) => this.conn.proxy.stopReplay(ids, replaySessionId));
  }

  /** Every matching recording, fetched in pages, in recordingId order. */
  async listRecordings(filter: ListRecordingsFilter = {}): Promise<RecordingDescriptor[]> {
    const out: RecordingDescriptor[] = [];
    let from = filter.fromRecordingId ?? 0;
    const limit = filter.maxCount ?? Number.MAX_SAFE_INTEGER;
    while (out.length < limit) {
      const page = Math.min(PAGE, limit - out.length);
      const r = await this.request('list recordings', (ids) =>
        this.conn.proxy.listRecordings(ids, {
          fromRecordingId: from,
          maxCount: page,
          states: filter.states ?? [],
          fromUtcNs: filter.fromUtcNs ?? null,
          toUtcNs: filter.toUtcNs ?? null,
          channel: filter.channel ?? '',
        }),
      );
      const got = dataOf(r, 'recordingDescriptor').sort((a, b) => a.recordingId - b.recordingId);
      out.push(...got);
      if (got.length < page) break;
      from = got[got.length - 1]!.recordingId + 1;
    }
    return out;
  }

  async describeRecording(recordingId: number): Promise<RecordingDescriptor> {
    const r = await this.request('describe recording', (ids) => this.conn.proxy.describeRecording(ids, recordingId));
    const d = dataOf(r, 'recordingDescriptor')[0];
    if (!d) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} is not known to the archiver`);
    return d;
  }

  async recordingPosition(recordingId: number): Promise<number> {
    const r = await this.request('recording position', (ids) => this.conn.proxy.recordingPosition(ids, recordingId));
    return r.response.relevantId;
  }

  async findPosition(recordingId: number, utcNs: bigint): Promise<number> {
    const r = await this.request('find position', (ids) => this.conn.proxy.findPosition(ids, recordingId, utcNs));
    return r.response.relevantId;
  }

  async listChannels(): Promise<ChannelDescriptor[]> {
    const r = await this.request('list channels', (ids) => this.conn.proxy.listChannels(ids));
    return dataOf(r, 'channelDescriptor').sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  }

  async stats(): Promise<StatsSnapshot> {
    const r = await this.request('stats', (ids) => this.conn.proxy.stats(ids));
    const parts = dataOf(r, 'stats');
    if (parts.length === 0) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered stats without a snapshot');
    // a snapshot too large for one datagram arrives in parts: merge them
    const counters = new Map<string, number>();
    for (const p of parts) for (const [k, v] of p.counters) counters.set(k, v);
    return { utcNs: parts[0]!.utcNs, counters };
  }

  /** Starts an archive pass now (or joins the running one); resolves with its id. Follow it with archiveStatus(). */
  async archiveRun(dryRun = false): Promise<number> {
    const r = await this.request('archive run', (ids) => this.conn.proxy.archiveRun(ids, dryRun));
    return r.response.relevantId;
  }

  /** The archive tiers and the current or last archive pass. */
  async archiveStatus(): Promise<ArchiveStatus> {
    const r = await this.request('archive status', (ids) => this.conn.proxy.archiveStatus(ids));
    const s = dataOf(r, 'archiveStatus')[0];
    if (!s) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered archive status without a status');
    return s;
  }

  async addQuarantine(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): Promise<number> {
    const r = await this.request('add quarantine', (ids) => this.conn.proxy.addQuarantine(ids, p.fromUtcNs, p.toUtcNs, p.channel ?? ''));
    return r.response.relevantId;
  }

  async removeQuarantine(quarantineId: number): Promise<void> {
    await this.request('remove quarantine', (ids) => this.conn.proxy.removeQuarantine(ids, quarantineId));
  }

  async listQuarantines(): Promise<QuarantineDescriptor[]> {
    const r = await this.request('list quarantines', (ids) => this.conn.proxy.listQuarantines(ids));
    return dataOf(r, 'quarantine').sort((a, b) => a.quarantineId - b.quarantineId);
  }

  /** Deletes the unquarantined events of a channel (or all) in the interval; returns how many. */
  async deleteEvents(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): Promise<number> {
    const r = await this.request('delete', (ids) => this.conn.proxy.deleteEvents(ids, p.fromUtcNs, p.toUtcNs, p.channel ?? ''));
    return r.response.relevantId;
  }

  /**
   * Bytes and (estimated) events per time bucket of each channel (or one) over an interval,
   * from the archiver's time index: no events are read (PROTOCOL.md "Event rates").
   */
  async eventRates(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint; buckets: number }): Promise<ChannelRates[]> {
    const r = await this.request('event rates', (ids) => this.conn.proxy.eventRates(ids, p.fromUtcNs, p.toUtcNs, p.buckets, p.channel ?? ''));
    return dataOf(r, 'eventRates');
  }

  /** What deleteEvents with the same arguments would remove now, and which holds protect what; deletes nothing. */
  async deletePreview(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): Promise<DeletePreview> {
    const r = await this.request('delete preview', (ids) => this.conn.proxy.deletePreview(ids, p.fromUtcNs, p.toUtcNs, p.channel ?? ''));
    const v = dataOf(r, 'deletePreview')[0];
    if (!v) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered a delete preview without one');
    return v;
  }

  /**
   * A retention pass (docs/ARCHIVER.md "Retention"): with dryRun, what would go and what holds
   * keep; without, runs one now (or joins the one running) and reports what went. Answered when
   * the pass ends: a long pass needs a client whose timeoutMs x attempts covers it.
   */
  async retention(p: { dryRun: boolean }): Promise<RetentionReport> {
    const r = await this.request(p.dryRun ? 'retention dry run' : 'retention run', (ids) => this.conn.proxy.retention(ids, p.dryRun));
    const entries = dataOf(r, 'retentionEntry');
    return {
      runId: entries[0]?.runId ?? 0,
      events: r.response.relevantId,
      bytes: entries.filter((e) => e.kind === 'delete').reduce((s, e) => s + e.bytes, 0),
      entries,
    };
  }

  async clusterStatus(): Promise<ClusterStatus> {
    const r = await this.request('cluster status', (ids) => this.conn.proxy.clusterStatus(ids));
    const s = dataOf(r, 'clusterStatus')[0];
    if (!s) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered cluster status without a status');
    return s;
  }

  /**
   * Subscribes to notifications (NotificationKind bits) and calls `handler` for each one;
   * returns the function that unsubscribes. While subscribed, the client keeps the process
   * alive.
   */
  async subscribe(mask: number, handler: NotificationHandler): Promise<() => Promise<void>> {
    const conn = this.conn;
    const remove = conn.notifications.add(handler);
    const previous = conn.subscribedMask;
    conn.subscribedMask |= mask;
    try {
      await this.sendMask(conn.subscribedMask);
    } catch (err) {
      remove();
      conn.subscribedMask = previous;
      throw err;
    }
    conn.updateRef();
    return async () => {
      remove();
      if (conn.notifications.size === 0 && !conn.isClosed) {
        conn.subscribedMask = 0;
        conn.updateRef();
        await this.sendMask(0);
      }
    };
  }

  /** One reliable read request: a chunk of whole events or fragments from `position`. */
  async readChunk(req: ReadChunkRequest): Promise<ReadChunk> {
    const r = await this.request('read', (ids) =>
      this.conn.proxy.read(ids, {
        recordingId: req.recordingId,
        position: req.position,
        fragmentOffset: req.fragmentOffset,
        maxBytes: req.maxBytes,
        toUtcNs: req.toUtcNs ?? null,
      }),
    );
    const chunk = dataOf(r, 'readChunk')[0];
    if (chunk) return chunk;
    // no chunk at all (nothing to read): the final response still says where to go on
    const next = r.response.relevantId;
    return { recordingId: req.recordingId, nextPosition: next, nextFragmentOffset: 0, endOfRecording: false, events: [] };
  }

  /** Asks for a streamed replay: where to fetch it and the one-time token (StreamReplayRequest). */
  async streamGrant(req: StreamRequest): Promise<StreamGrant> {
    const byRecording = 'recordingId' in req;
    const r = await this.request('stream replay', (ids) =>
      this.conn.proxy.streamReplay(ids, {
        recordingId: byRecording ? req.recordingId : null,
        position: byRecording ? (req.position ?? null) : null,
        length: byRecording ? (req.length ?? null) : null,
        fromUtcNs: req.fromUtcNs ?? null,
        toUtcNs: req.toUtcNs ?? null,
        follow: req.follow ?? false,
        channels: byRecording ? [] : req.channels,
      }),
    );
    const grant = dataOf(r, 'streamGrant')[0];
    if (!grant) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered a stream replay without a StreamGrant');
    return grant;
  }

  /**
   * A streamed replay (docs/PROTOCOL.md "Streamed replay"): the events of one recording, or of
   * channels merged in time order, over one flow-controlled TCP stream from the archiver. The
   * request goes out when iteration starts; breaking out of the loop ends the stream.
   */
  stream(req: StreamRequest): EventStream {
    return new EventStream(async () => this.streamTarget(await this.streamGrant(req)));
  }

  /** The events of one recording from a position (default: its start), reliably (a streamed replay). */
  read(opts: { recordingId: number; position?: number; length?: number; toUtcNs?: bigint; follow?: boolean }): AsyncIterable<RecordedEvent> {
    return { [Symbol.asyncIterator]: () => this.stream(opts) };
  }

  /**
   * The recorded events of channels (primary names or aliases) within a UTC interval, in
   * timestamp order (ties by recordingId, then position), merged by the archiver and streamed.
   */
  events(opts: EventsOptions): AsyncIterable<RecordedEvent> {
    const req: StreamRequest = { channels: opts.channels, fromUtcNs: opts.fromUtcNs, toUtcNs: opts.toUtcNs, follow: opts.follow };
    return { [Symbol.asyncIterator]: () => this.stream(req) };
  }

  private streamTarget(grant: StreamGrant): StreamTarget {
    const ep = parseEndpoint(grant.endpoint, 'stream endpoint');
    const host = WILDCARD_HOSTS.has(ep.host) ? this.conn.archiver.host : ep.host;
    return { host, port: ep.port, token: grant.token, replaySessionId: grant.replaySessionId };
  }

  /** Closes the session (best effort) and the socket; pending requests fail. */
  close(): Promise<void> {
    return this.conn.close();
  }

  private async sendMask(mask: number): Promise<void> {
    await this.request('subscribe notifications', (ids) => this.conn.proxy.subscribeNotifications(ids, mask));
  }

  private request(what: string, encode: (ids: Ids) => Buffer): Promise<RequestResult<DataMessage>> {
    return this.conn.request(what, encode);
  }
}

type DataValue<K extends DataMessage['kind']> = Extract<DataMessage, { kind: K }>['value'];

function dataOf<K extends DataMessage['kind']>(r: RequestResult<DataMessage>, kind: K): DataValue<K>[] {
  return r.data.filter((m) => m.kind === kind).map((m) => m.value as DataValue<K>);
}
