/**
 * The VCR client library: one control session with one archiver over UDP
 * (PROTOCOL.md). It owns a UDP socket bound on the loopback interface when the archiver is
 * local (else on all interfaces; responses go to the datagram's source address), encodes
 * requests through ControlRequestProxy, decodes answers through ControlResponseAdapter and
 * correlates them in PendingRequests, which re-sends lost requests with the same
 * correlationId. A timer steps `doWork()` (retries, keep-alives); it is unref'd, and the
 * socket is only ref'd while something is awaited, so an idle client never holds the process
 * open. Typed methods return plain objects (types.ts); failures are VcrError with the wire
 * code, TIMEOUT when the archiver does not answer.
 */
import { createSocket, type Socket } from 'node:dgram';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import { ControlRequestProxy, type Ids } from './ControlRequestProxy.js';
import { ControlResponseAdapter, type DataMessage } from './ControlResponseAdapter.js';
import { PendingRequests, type ControlResponse, type RequestResult } from './PendingRequests.js';
import { NotificationDispatcher, type Notification, type NotificationHandler } from './Notifications.js';
import { readRecording, type ReadChunkRequest, type ReadOptions } from './EventReader.js';
import { mergeEvents } from './MergedEventIterator.js';
import { isLoopbackHost, parseEndpoint, type Endpoint } from './endpoint.js';
import type {
  ChannelDescriptor,
  ClusterStatus,
  ListRecordingsFilter,
  QuarantineDescriptor,
  ReadChunk,
  RecordedEvent,
  RecordingDescriptor,
  StatsSnapshot,
} from './types.js';

export interface ConnectOptions {
  /** HOST:PORT of the archiver's control endpoint */
  archiver: string;
  /** per attempt, default 1,000 ms */
  timeoutMs?: number;
  /** attempts per request, default 5 */
  attempts?: number;
  clientName?: string;
  /** asked of the archiver; 0 = its default (10,000 ms) */
  keepAliveTimeoutMs?: number;
  /** monotonic milliseconds; injected by tests */
  clock?: () => number;
  /** how often the duty-cycle timer runs, default 10 ms */
  dutyCycleMs?: number;
}

const PAGE = 100;
const DEFAULT_KEEPALIVE_MS = 10_000;

export interface EventsOptions {
  channels: string[];
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
  follow?: boolean;
  pollIntervalMs?: number;
}

export class ArchiveClient {
  private readonly proxy = new ControlRequestProxy();
  private readonly adapter: ControlResponseAdapter;
  private readonly pending: PendingRequests;
  private readonly notifications = new NotificationDispatcher();
  private readonly clock: () => number;
  private readonly keepAliveIntervalMs: number;
  private controlSessionId = -1n;
  private nextCorrelationId: bigint;
  private lastSendMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = 0;
  private subscribedMask = 0;
  private closed = false;
  private malformed = 0;

  private constructor(
    private readonly socket: Socket,
    readonly archiver: Endpoint,
    private readonly opts: ConnectOptions,
  ) {
    this.clock = opts.clock ?? (() => performance.now());
    this.keepAliveIntervalMs = (opts.keepAliveTimeoutMs || DEFAULT_KEEPALIVE_MS) / 3;
    // random start: a later client reusing this ephemeral port must not look like a retry of ours
    this.nextCorrelationId = BigInt(Math.floor(Math.random() * 2 ** 47)) + 1n;
    this.pending = new PendingRequests({
      send: (bytes) => this.send(bytes),
      timeoutMs: opts.timeoutMs ?? 1000,
      attempts: opts.attempts ?? 5,
      peerName: `archiver at ${archiver.host}:${archiver.port}`,
    });
    this.adapter = new ControlResponseAdapter({
      onControlResponse: (r: ControlResponse) => this.pending.onResponse(r, this.clock()),
      onData: (correlationId, key, msg) => this.pending.onData(correlationId, key, msg, this.clock()),
      onNotification: (n: Notification) => this.notifications.dispatch(n),
      onMalformed: () => void this.malformed++,
    });
    socket.on('message', (msg) => this.adapter.onDatagram(msg));
    socket.on('error', (err) => this.pending.failAll(new VcrError(ErrorCode.IO_ERROR, `control socket: ${err.message}`)));
  }

  /** Binds a socket, opens a control session and returns the connected client. */
  static async connect(opts: ConnectOptions): Promise<ArchiveClient> {
    const archiver = parseEndpoint(opts.archiver, 'archiver');
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, isLoopbackHost(archiver.host) ? '127.0.0.1' : undefined, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new VcrError(ErrorCode.IO_ERROR, `cannot bind a UDP socket: ${err.message}`, { cause: err });
    });
    const client = new ArchiveClient(socket, archiver, opts);
    try {
      await client.openSession();
    } catch (err) {
      client.shutdown();
      throw err;
    }
    client.timer = setInterval(() => client.doWork(), opts.dutyCycleMs ?? 10);
    client.timer.unref();
    client.updateRef();
    return client;
  }

  get sessionId(): number {
    return Number(this.controlSessionId);
  }

  /** Datagrams received that did not decode (counted, otherwise ignored). */
  get malformedCount(): number {
    return this.malformed;
  }

  get retryCount(): number {
    return this.pending.retryCount;
  }

  /** Retries, timeouts and keep-alives; returns the work done. */
  doWork(): number {
    if (this.closed) return 0;
    const now = this.clock();
    let work = this.pending.doWork(now);
    if (this.pending.size === 0 && now - this.lastSendMs >= this.keepAliveIntervalMs) {
      // fire and forget: the answer matches nothing in flight and is dropped
      this.send(this.proxy.keepAlive(this.ids()));
      work++;
    }
    return work;
  }

  async startRecording(p: { channel: string; source: string; aliases?: string[] }): Promise<number> {
    const r = await this.request('start recording', (ids) => this.proxy.startRecording(ids, p.channel, p.source, p.aliases ?? []));
    return Number(r.response.relevantId);
  }

  async stopRecording(p: { recordingId: number } | { channel: string }): Promise<number> {
    const r = await this.request('stop recording', (ids) =>
      'recordingId' in p ? this.proxy.stopRecording(ids, p.recordingId, '') : this.proxy.stopRecording(ids, null, p.channel),
    );
    return Number(r.response.relevantId);
  }

  async replay(p: { recordingId: number; position?: number; length?: number; destination: string; speed?: number; follow?: boolean }): Promise<number> {
    const r = await this.request('replay', (ids) =>
      this.proxy.replay(ids, {
        recordingId: p.recordingId,
        position: p.position ?? null,
        length: p.length ?? null,
        speed: p.speed ?? 1,
        follow: p.follow ?? false,
        destination: p.destination,
      }),
    );
    return Number(r.response.relevantId);
  }

  async replayChannels(p: {
    channels: { channel: string; destination: string }[];
    fromUtcNs?: bigint;
    toUtcNs?: bigint;
    speed?: number;
    follow?: boolean;
  }): Promise<number> {
    const r = await this.request('time replay', (ids) =>
      this.proxy.timeReplay(ids, {
        fromUtcNs: p.fromUtcNs ?? null,
        toUtcNs: p.toUtcNs ?? null,
        speed: p.speed ?? 1,
        follow: p.follow ?? false,
        channels: p.channels,
      }),
    );
    return Number(r.response.relevantId);
  }

  async stopReplay(replaySessionId: number): Promise<void> {
    await this.request('stop replay', (ids) => this.proxy.stopReplay(ids, replaySessionId));
  }

  /** Every matching recording, fetched in pages, in recordingId order. */
  async listRecordings(filter: ListRecordingsFilter = {}): Promise<RecordingDescriptor[]> {
    const out: RecordingDescriptor[] = [];
    let from = filter.fromRecordingId ?? 0;
    const limit = filter.maxCount ?? Number.MAX_SAFE_INTEGER;
    while (out.length < limit) {
      const page = Math.min(PAGE, limit - out.length);
      const r = await this.request('list recordings', (ids) =>
        this.proxy.listRecordings(ids, {
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
    const r = await this.request('describe recording', (ids) => this.proxy.describeRecording(ids, recordingId));
    const d = dataOf(r, 'recordingDescriptor')[0];
    if (!d) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `recording ${recordingId} is not known to the archiver`);
    return d;
  }

  async recordingPosition(recordingId: number): Promise<number> {
    const r = await this.request('recording position', (ids) => this.proxy.recordingPosition(ids, recordingId));
    return Number(r.response.relevantId);
  }

  async findPosition(recordingId: number, utcNs: bigint): Promise<number> {
    const r = await this.request('find position', (ids) => this.proxy.findPosition(ids, recordingId, utcNs));
    return Number(r.response.relevantId);
  }

  async listChannels(): Promise<ChannelDescriptor[]> {
    const r = await this.request('list channels', (ids) => this.proxy.listChannels(ids));
    return dataOf(r, 'channelDescriptor').sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  }

  async stats(): Promise<StatsSnapshot> {
    const r = await this.request('stats', (ids) => this.proxy.stats(ids));
    const s = dataOf(r, 'stats')[0];
    if (!s) throw new VcrError(ErrorCode.MALFORMED_MESSAGE, 'the archiver answered stats without a snapshot');
    return s;
  }

  async addQuarantine(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): Promise<number> {
    const r = await this.request('add quarantine', (ids) => this.proxy.addQuarantine(ids, p.fromUtcNs, p.toUtcNs, p.channel ?? ''));
    return Number(r.response.relevantId);
  }

  async removeQuarantine(quarantineId: number): Promise<void> {
    await this.request('remove quarantine', (ids) => this.proxy.removeQuarantine(ids, quarantineId));
  }

  async listQuarantines(): Promise<QuarantineDescriptor[]> {
    const r = await this.request('list quarantines', (ids) => this.proxy.listQuarantines(ids));
    return dataOf(r, 'quarantine').sort((a, b) => a.quarantineId - b.quarantineId);
  }

  /** Deletes the unquarantined events of a channel (or all) in the interval; returns how many. */
  async deleteEvents(p: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }): Promise<number> {
    const r = await this.request('delete', (ids) => this.proxy.deleteEvents(ids, p.fromUtcNs, p.toUtcNs, p.channel ?? ''));
    return Number(r.response.relevantId);
  }

  async clusterStatus(): Promise<ClusterStatus> {
    const r = await this.request('cluster status', (ids) => this.proxy.clusterStatus(ids));
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
    const remove = this.notifications.add(handler);
    const previous = this.subscribedMask;
    this.subscribedMask |= mask;
    try {
      await this.sendMask(this.subscribedMask);
    } catch (err) {
      remove();
      this.subscribedMask = previous;
      throw err;
    }
    this.updateRef();
    return async () => {
      remove();
      if (this.notifications.size === 0 && !this.closed) {
        this.subscribedMask = 0;
        await this.sendMask(0);
      }
      this.updateRef();
    };
  }

  /** One reliable read request: a chunk of whole events or fragments from `position`. */
  async readChunk(req: ReadChunkRequest): Promise<ReadChunk> {
    const r = await this.request('read', (ids) =>
      this.proxy.read(ids, {
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
    const next = Number(r.response.relevantId);
    return { recordingId: req.recordingId, nextPosition: next, nextFragmentOffset: 0, endOfRecording: false, events: [] };
  }

  /** The events of one recording from a position (default: its start), reliably. */
  read(opts: Omit<ReadOptions, 'position'> & { position?: number }): AsyncIterable<RecordedEvent> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        let position = opts.position;
        let channel = opts.channel;
        if (position === undefined || channel === undefined) {
          const d = await self.describeRecording(opts.recordingId);
          position ??= d.startPosition;
          channel ??= d.channel;
        }
        yield* self.tracked(readRecording((q) => self.readChunk(q), { ...opts, position, channel }, sleep));
      },
    };
  }

  /**
   * The recorded events of channels (primary names or aliases) within a UTC interval, in
   * timestamp order (ties by recordingId, then position), merged on the client side.
   */
  events(opts: EventsOptions): AsyncIterable<RecordedEvent> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const recordings = new Map<number, RecordingDescriptor>();
        for (const channel of opts.channels) {
          for (const d of await self.listRecordings({ channel, fromUtcNs: opts.fromUtcNs, toUtcNs: opts.toUtcNs })) recordings.set(d.recordingId, d);
        }
        const inputs: AsyncIterable<RecordedEvent>[] = [];
        for (const d of [...recordings.values()].sort((a, b) => a.recordingId - b.recordingId)) {
          const position = opts.fromUtcNs !== undefined ? await self.findPosition(d.recordingId, opts.fromUtcNs) : d.startPosition;
          const follow = (opts.follow ?? false) && d.state === 'recording';
          const readOpts: ReadOptions = { recordingId: d.recordingId, position, toUtcNs: opts.toUtcNs, follow, channel: d.channel, pollIntervalMs: opts.pollIntervalMs };
          inputs.push({ [Symbol.asyncIterator]: () => readRecording((q) => self.readChunk(q), readOpts, sleep) });
        }
        yield* self.tracked(mergeEvents(inputs));
      },
    };
  }

  /** Closes the session (best effort) and the socket; pending requests fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    const bytes = this.proxy.closeSession(this.ids());
    await new Promise<void>((resolve) => this.socket.send(bytes, this.archiver.port, this.archiver.host, () => resolve()));
    this.shutdown();
  }

  private shutdown(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.notifications.clear();
    this.pending.failAll(new VcrError(ErrorCode.GENERIC, 'the client was closed'));
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private async openSession(): Promise<void> {
    const correlationId = this.nextCorrelationId++;
    const bytes = this.proxy.connect(correlationId, this.opts.keepAliveTimeoutMs ?? 0, '', this.opts.clientName ?? `vcr-client-${process.pid}`);
    this.busy++;
    this.updateRef();
    // before the duty-cycle timer exists, a private one drives the connect's retries
    const t = setInterval(() => this.pending.doWork(this.clock()), 10);
    try {
      const r = await this.pending.register(correlationId, bytes, 'connect', this.clock());
      this.controlSessionId = r.response.relevantId;
    } finally {
      clearInterval(t);
      this.busy--;
      this.updateRef();
    }
  }

  private async sendMask(mask: number): Promise<void> {
    await this.request('subscribe notifications', (ids) => this.proxy.subscribeNotifications(ids, mask));
  }

  private async request(what: string, encode: (ids: Ids) => Buffer): Promise<RequestResult<DataMessage>> {
    if (this.closed) throw new VcrError(ErrorCode.GENERIC, `${what}: the client is closed`);
    this.busy++;
    this.updateRef();
    try {
      try {
        return await this.attempt(what, encode);
      } catch (err) {
        if (!isVcrError(err, ErrorCode.UNKNOWN_SESSION) || this.closed) throw err;
        // the archiver restarted or expired us: the request was not executed, so open a new
        // session and ask once more
        await this.openSession();
        if (this.subscribedMask !== 0) await this.attempt('subscribe notifications', (ids) => this.proxy.subscribeNotifications(ids, this.subscribedMask));
        return await this.attempt(what, encode);
      }
    } finally {
      this.busy--;
      this.updateRef();
    }
  }

  private attempt(what: string, encode: (ids: Ids) => Buffer): Promise<RequestResult<DataMessage>> {
    const ids = this.ids();
    return this.pending.register<DataMessage>(ids.correlationId, encode(ids), what, this.clock());
  }

  private ids(): Ids {
    return { controlSessionId: this.controlSessionId, correlationId: this.nextCorrelationId++ };
  }

  private send(bytes: Buffer): void {
    if (this.closed) return;
    this.lastSendMs = this.clock();
    this.socket.send(bytes, this.archiver.port, this.archiver.host);
  }

  /** Holds the process open only while a request, an iteration or a subscription is live. */
  private updateRef(): void {
    if (this.closed) return;
    if (this.busy > 0 || this.subscribedMask !== 0) this.socket.ref();
    else this.socket.unref();
  }

  private async *tracked(source: AsyncIterable<RecordedEvent>): AsyncGenerator<RecordedEvent, void, undefined> {
    this.busy++;
    this.updateRef();
    try {
      yield* source;
    } finally {
      this.busy--;
      this.updateRef();
    }
  }
}

type DataValue<K extends DataMessage['kind']> = Extract<DataMessage, { kind: K }>['value'];

function dataOf<K extends DataMessage['kind']>(r: RequestResult<DataMessage>, kind: K): DataValue<K>[] {
  return r.data.filter((m) => m.kind === kind).map((m) => m.value as DataValue<K>);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
