/**
 * UDP endpoints the archiver sends to: `udp://HOST:PORT[?interface=ADDR&ttl=N]` for replay and
 * notification destinations and response channels, parsed by the one endpoint parser
 * (src/util/endpoint.ts: IP literals, `localhost` as 127.0.0.1, other names refused) so a bad
 * destination is refused with INVALID_ARGUMENT before anything starts. Sockets are IPv4.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { parseEndpoint, quoteForMessage } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { NATIVE_MAX_BATCH, udpNative, type UdpNative } from '../util/udp-native.js';

export interface UdpEndpoint {
  host: string;
  port: number;
  interface?: string;
  ttl?: number;
  multicast: boolean;
}

export function parseUdpEndpoint(uri: string, what = 'destination'): UdpEndpoint {
  const p = parseEndpoint(uri, { schemes: ['udp'], what, params: ['interface', 'ttl'] });
  const bad = (why: string): VcrError => new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} ${quoteForMessage(uri)}: ${why}`);
  if (p.family !== 4) throw bad('IPv6 destinations are not supported; give an IPv4 address');
  const ep: UdpEndpoint = { host: p.host, port: p.port, multicast: p.multicast };
  const iface = p.params.get('interface');
  if (iface !== undefined) {
    if (!isIPv4(iface)) throw bad('interface must be an IPv4 address');
    ep.interface = iface;
  }
  const ttl = p.params.get('ttl');
  if (ttl !== undefined) {
    if (!/^[0-9]{1,3}$/.test(ttl) || Number(ttl) > 255) throw bad('ttl must be 0-255');
    ep.ttl = Number(ttl);
  }
  return ep;
}

/** Something datagrams can be sent through (a socket, or a test double recording them). */
export interface DatagramSender {
  /** Sends buf (which the caller must not reuse: the send completes asynchronously). */
  send(buf: Buffer, port: number, host: string): void;
}

/**
 * A sending socket for one destination kind (multicast options are per socket). Counts sends
 * still in flight so replays can hold back instead of queueing without bound, and counts send
 * errors instead of throwing (best effort).
 *
 * A plain unicast sender connects its socket to the first destination it sends to: a
 * connected socket skips the per-send address lookup, which is most of the cost of a send at
 * replay speed 0. Sends to any other destination go through a second, unconnected socket.
 */
export class UdpSender implements DatagramSender {
  private readonly ep: Pick<UdpEndpoint, 'interface' | 'ttl' | 'multicast'> | undefined;
  private readonly nativeAddon: UdpNative | undefined;
  private batch: NativeSendQueue | undefined;
  private batchHost = '';
  private batchPort = 0;
  private flushScheduled = false;
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
    if (this.batch && this.batch.pending > 0) this.scheduleFlush();
  };
  private dgramInFlight = 0;
  private readonly socket: Socket;
  private readonly connectable: boolean;
  private connectedPort = 0;
  private connectedHost = '';
  private connected = false;
  private other: Socket | undefined;
  errors = 0;
  private closed = false;
  private closing = false;
  private readonly onSent = (err: Error | null): void => {
    this.dgramInFlight--;
    if (err) this.errors++;
    if (this.closing && this.inFlight === 0) this.closeSockets();
  };
  private readonly onError = (): void => {
    this.errors++;
  };
  /** Set when a socket option the destination needs (multicast interface, TTL) failed. */
  private setupError: VcrError | undefined;
  private setupDone: boolean;
  private readonly ready: Promise<void>;
  private settleReady: ((err?: VcrError) => void) | undefined;

  /**
   * native: batch sends to the first destination through the native addon (sendmmsg) when
   * it loads; undefined = when available and VCR_UDP_NATIVE is not 0, false = never.
   */
  constructor(ep?: Pick<UdpEndpoint, 'interface' | 'ttl' | 'multicast'>, options: { native?: boolean } = {}) {
    this.ep = ep;
    this.nativeAddon = options.native === false ? undefined : udpNative();
    this.socket = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
    this.socket.on('error', this.onError);
    this.connectable = !(ep && (ep.multicast || ep.interface || ep.ttl !== undefined));
    this.setupDone = this.connectable || !ep;
    this.ready = this.setupDone
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          this.settleReady = (err) => (err ? reject(err) : resolve());
        });
    this.ready.catch(() => {
      // observed through readiness() or whenReady(); never an unhandled rejection
    });
    if (!this.connectable && ep) {
      const onBindError = (err: Error): void => {
        this.failSetup(`cannot open a socket: ${err.message}`);
      };
      this.socket.once('error', onBindError);
      this.socket.bind(0, () => {
        this.socket.off('error', onBindError);
        try {
          if (ep.interface) this.socket.setMulticastInterface(ep.interface);
          if (ep.ttl !== undefined) this.socket.setMulticastTTL(ep.ttl);
          this.socket.setMulticastLoopback(true);
          this.setupDone = true;
          this.settleReady?.();
        } catch (err) {
          this.failSetup(`cannot use ${ep.interface ? `interface ${ep.interface}` : 'the multicast options'}: ${(err as Error).message}`);
        }
      });
    }
  }

  private failSetup(message: string): void {
    this.errors++;
    this.setupError = new VcrError(ErrorCode.INVALID_ARGUMENT, message);
    this.setupDone = true;
    this.settleReady?.(this.setupError);
  }

  /** Resolves when the socket is set up for its destination; rejects with the option's error. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /**
   * Whether the socket is set up for its destination: 'pending' until the options are applied
   * (they need a bound socket, which binds asynchronously), then 'ready' or the VcrError
   * (INVALID_ARGUMENT) of the option that failed.
   */
  readiness(): 'pending' | 'ready' | VcrError {
    if (this.setupError) return this.setupError;
    return this.setupDone ? 'ready' : 'pending';
  }

  /** Sends queued or still on their way (the caller holds back when this grows too large). */
  get inFlight(): number {
    return this.dgramInFlight + (this.batch ? this.batch.pending : 0);
  }

  /** Whether sends to the first destination go through the native batch path. */
  get usesNative(): boolean {
    return this.batch !== undefined;
  }

  send(buf: Buffer, port: number, host: string): void {
    if (this.closed) return;
    if (this.nativeAddon && this.batchPort === 0 && isIPv4(host)) this.openBatch(this.nativeAddon, port, host);
    if (this.batch && this.batchPort === port && this.batchHost === host) {
      const q = this.batch;
      if (q.isFull(buf.length)) q.flush();
      q.push(buf);
      if (q.pending >= NATIVE_MAX_BATCH) q.flush();
      // flush() from the replay's duty cycle usually comes first; this is the safety net
      if (q.pending > 0) this.scheduleFlush();
      return;
    }
    this.dgramInFlight++;
    try {
      if (this.connectable && this.connectedPort === 0) this.connectTo(port, host);
      if (this.connected && this.connectedPort === port && this.connectedHost === host) {
        this.socket.send(buf, this.onSent);
      } else if (this.connectable) {
        // another destination, or the connect is still pending: send with an address
        this.otherSocket().send(buf, 0, buf.length, port, host, this.onSent);
      } else {
        this.socket.send(buf, 0, buf.length, port, host, this.onSent);
      }
    } catch {
      this.dgramInFlight--;
      this.errors++;
    }
  }

  /** Sends what is queued for the native path, as far as the socket takes it now. */
  flush(): void {
    const q = this.batch;
    if (!q || q.pending === 0) return;
    q.flush();
    if (q.pending === 0 && this.closing && this.inFlight === 0) this.closeSockets();
  }

  private openBatch(native: UdpNative, port: number, host: string): void {
    this.batchPort = port;
    this.batchHost = host;
    try {
      const fd = native.openSender(host, port, this.ep?.ttl ?? -1, this.ep?.interface ?? null, 4 * 1024 * 1024);
      this.batch = new NativeSendQueue(native, fd, (n) => (this.errors += n));
    } catch {
      // keep the dgram path for this destination
      this.batchPort = -1;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.scheduledFlush);
  }

  private connectTo(port: number, host: string): void {
    this.connectedPort = port;
    this.connectedHost = host;
    this.socket.connect(port, host, () => {
      this.connected = true;
    });
  }

  private otherSocket(): Socket {
    if (!this.other) {
      this.other = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
      this.other.on('error', this.onError);
    }
    return this.other;
  }

  /** Closes once every queued send has left (closing earlier would discard them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) this.closing = true;
    else this.closeSockets();
  }

  private closeSockets(): void {
    this.closing = false;
    this.batch?.close();
    for (const s of [this.socket, this.other]) {
      try {
        s?.close();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Datagrams waiting for one sendmmsg: copied back to back into a slab (which doubles when a
 * datagram does not fit), sent in order; what the socket does not take now (EAGAIN) stays
 * for the next flush. A send error other than EAGAIN loses the one datagram it hit (counted).
 */
export class NativeSendQueue {
  private slab = Buffer.allocUnsafeSlow(1024 * 1024);
  private offsets = new Int32Array(1024);
  private lengths = new Int32Array(1024);
  private head = 0;
  private tail = 0;
  private bytes = 0;
  private closed = false;
  /** sendBatch calls made (tests and benchmarks read it). */
  batches = 0;

  constructor(
    private readonly native: UdpNative,
    readonly fd: number,
    private readonly onErrors: (count: number) => void,
  ) {}

  get pending(): number {
    return this.tail - this.head;
  }

  /** Whether push(len) needs a flush first (a datagram always fits an empty queue). */
  isFull(len: number): boolean {
    return this.pending > 0 && (this.bytes + len > this.slab.length || this.tail === this.offsets.length);
  }

  push(buf: Buffer): void {
    if (this.closed) return;
    if (this.head === this.tail) {
      this.head = this.tail = this.bytes = 0;
    }
    if (this.bytes + buf.length > this.slab.length || this.tail === this.offsets.length) this.grow(buf.length);
    buf.copy(this.slab, this.bytes);
    this.offsets[this.tail] = this.bytes;
    this.lengths[this.tail] = buf.length;
    this.tail++;
    this.bytes += buf.length;
  }

  /** Returns how many datagrams went. */
  flush(): number {
    let sent = 0;
    while (!this.closed && this.head < this.tail) {
      const r = this.native.sendBatch(this.fd, this.slab, this.offsets, this.lengths, this.head, Math.min(this.tail - this.head, NATIVE_MAX_BATCH));
      this.batches++;
      if (r === 0) break;
      if (r < 0) {
        // e.g. ECONNREFUSED (an ICMP error from an earlier datagram) fails the first datagram
        // of the call only: count it as lost, like a failed dgram send, and go on
        this.onErrors(1);
        this.head++;
        continue;
      }
      this.head += r;
      sent += r;
    }
    if (this.head === this.tail) this.head = this.tail = this.bytes = 0;
    return sent;
  }

  /** Compacts what is pending to the front and makes room for one more datagram of len bytes. */
  private grow(len: number): void {
    const n = this.pending;
    const used = this.bytes - (n > 0 ? this.offsets[this.head]! : this.bytes);
    let size = this.slab.length;
    while (used + len > size) size *= 2;
    const slab = size === this.slab.length && this.head === 0 ? this.slab : Buffer.allocUnsafeSlow(size);
    const base = n > 0 ? this.offsets[this.head]! : 0;
    if (slab !== this.slab || base !== 0) this.slab.copy(slab, 0, base, this.bytes);
    const cap = n + 1 > this.offsets.length ? this.offsets.length * 2 : this.offsets.length;
    const offsets = new Int32Array(cap);
    const lengths = new Int32Array(cap);
    for (let i = 0; i < n; i++) {
      offsets[i] = this.offsets[this.head + i]! - base;
      lengths[i] = this.lengths[this.head + i]!;
    }
    this.slab = slab;
    this.offsets = offsets;
    this.lengths = lengths;
    this.head = 0;
    this.tail = n;
    this.bytes = used;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.fd);
  }
}
