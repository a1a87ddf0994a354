/**
 * The transport and session layer of the client: one UDP socket (bound on the loopback
 * interface when the archiver is local, else on all interfaces; responses go to the
 * datagram's source address), one control session, and the duty cycle that drives
 * retries and keep-alives. Requests are encoded by the caller through `proxy`, answered
 * datagrams are decoded by ControlResponseAdapter and correlated by PendingRequests. A
 * request that meets UNKNOWN_SESSION (archiver restarted, or our session expired) was not
 * executed, so the connection opens a new session, restores the notification subscription
 * and asks once more.
 *
 * The duty-cycle timer is unref'd and the socket is ref'd only while something is awaited
 * (`hold()`), so an idle client never keeps the process alive.
 */
import { createSocket, type Socket } from 'node:dgram';
import { DEFAULT_KEEPALIVE_MS } from '../protocol/constants.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import { ControlRequestProxy, type Ids } from './control-request-proxy.js';
import { ControlResponseAdapter, type DataMessage } from './control-response-adapter.js';
import { PendingRequests, type RequestResult } from './pending-requests.js';
import { NotificationDispatcher } from './notifications.js';
import { isLoopbackHost, parseEndpoint, type Endpoint } from './endpoint.js';

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


export class ClientConnection {
  readonly proxy = new ControlRequestProxy();
  readonly notifications = new NotificationDispatcher();
  /** the notification mask the session is subscribed with (0: none) */
  subscribedMask = 0;
  private readonly adapter: ControlResponseAdapter;
  private readonly pending: PendingRequests;
  private readonly clock: () => number;
  private readonly keepAliveIntervalMs: number;
  private controlSessionId = -1;
  private nextCorrelationId: bigint;
  private lastSendMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private holds = 0;
  private closed = false;
  private malformed = 0;
  private reopening: Promise<void> | null = null;

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
      onControlResponse: (r) => this.pending.onResponse(r, this.clock()),
      onData: (correlationId, key, msg) => this.pending.onData(correlationId, key, msg, this.clock()),
      onNotification: (n) => this.notifications.dispatch(n),
      onMalformed: () => void this.malformed++,
    });
    socket.on('message', (msg) => this.adapter.onDatagram(msg));
    socket.on('error', (err) => this.pending.failAll(new VcrError(ErrorCode.IO_ERROR, `control socket: ${err.message}`)));
  }

  /** Binds a socket and opens a control session. */
  static async open(opts: ConnectOptions): Promise<ClientConnection> {
    const archiver = parseEndpoint(opts.archiver, 'archiver');
    const v6 = archiver.host.includes(':');
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, isLoopbackHost(archiver.host) ? (v6 ? '::1' : '127.0.0.1') : undefined, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new VcrError(ErrorCode.IO_ERROR, `cannot bind a UDP socket: ${err.message}`, { cause: err });
    });
    const conn = new ClientConnection(socket, archiver, opts);
    conn.timer = setInterval(() => conn.doWork(), opts.dutyCycleMs ?? 10);
    conn.timer.unref();
    try {
      await conn.hold(() => conn.openSession());
    } catch (err) {
      conn.shutdown();
      throw err;
    }
    return conn;
  }

  get sessionId(): number {
    return this.controlSessionId;
  }

  get malformedCount(): number {
    return this.malformed;
  }

  get retryCount(): number {
    return this.pending.retryCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Retries, timeouts and keep-alives; returns the work done. */
  doWork(): number {
    if (this.closed) return 0;
    const now = this.clock();
    let work = this.pending.doWork(now);
    if (this.controlSessionId >= 0 && this.pending.size === 0 && now - this.lastSendMs >= this.keepAliveIntervalMs) {
      // fire and forget: the answer matches nothing in flight and is dropped
      this.send(this.proxy.keepAlive(this.ids()));
      work++;
    }
    return work;
  }

  /** Sends one request (encoded with fresh ids) and resolves with its OK answer and data. */
  request(what: string, encode: (ids: Ids) => Buffer): Promise<RequestResult<DataMessage>> {
    if (this.closed) return Promise.reject(new VcrError(ErrorCode.GENERIC, `${what}: the client is closed`));
    return this.hold(async () => {
      try {
        return await this.attempt(what, encode);
      } catch (err) {
        if (!isVcrError(err, ErrorCode.UNKNOWN_SESSION) || this.closed) throw err;
        await this.reopen();
        return await this.attempt(what, encode);
      }
    });
  }

  /** Keeps the process alive while `work` runs (a request, an iteration, a subscription). */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    this.holds++;
    this.updateRef();
    try {
      return await work();
    } finally {
      this.holds--;
      this.updateRef();
    }
  }

  async *holdWhile<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
    this.holds++;
    this.updateRef();
    try {
      yield* source;
    } finally {
      this.holds--;
      this.updateRef();
    }
  }

  /** Closes the session (best effort) and the socket; pending requests fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    const bytes = this.proxy.closeSession(this.ids());
    await new Promise<void>((resolve) => this.socket.send(bytes, this.archiver.port, this.archiver.host, () => resolve()));
    this.shutdown();
  }

  updateRef(): void {
    if (this.closed) return;
    if (this.holds > 0 || this.subscribedMask !== 0) this.socket.ref();
    else this.socket.unref();
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

  /** One new session however many requests found the old one gone at the same time. */
  private reopen(): Promise<void> {
    this.reopening ??= (async () => {
      try {
        await this.openSession();
        if (this.subscribedMask !== 0) {
          const mask = this.subscribedMask;
          await this.attempt('subscribe notifications', (ids) => this.proxy.subscribeNotifications(ids, mask));
        }
      } finally {
        this.reopening = null;
      }
    })();
    return this.reopening;
  }

  private async openSession(): Promise<void> {
    const correlationId = this.nextCorrelationId++;
    const name = this.opts.clientName ?? `vcr-client-${process.pid}`;
    const bytes = this.proxy.connect(correlationId, this.opts.keepAliveTimeoutMs ?? 0, '', name);
    const r = await this.pending.register(correlationId, bytes, 'connect', this.clock());
    this.controlSessionId = r.response.relevantId;
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
}
