/**
 * The control endpoint's socket: binds it, queues inbound datagrams (the socket callback only
 * checks the allowlist and copies the datagram into a bounded queue, then signals the duty
 * cycle), and sends responses and notifications. It knows nothing of the protocol: the
 * ControlAdapter polls the queue and decodes. Overflow and datagrams from addresses outside the
 * allowlist are dropped and counted as `rejected`; so are datagrams from the endpoint itself
 * (a response that found its way back must not be answered again).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP, type AddressInfo } from 'node:net';
import { formatHostPort } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { AddressAllowlist, unmapIPv4 } from './address-allowlist.js';
import type { ArchiverCounters } from './archiver-counters.js';
import { isOwnEndpoint, type BoundAddress } from './destination-checks.js';
import type { DatagramSender } from './udp-endpoint.js';

export type DatagramHandler = (data: Buffer, host: string, port: number) => void;

interface Inbound {
  data: Buffer;
  host: string;
  port: number;
}

export interface ControlTransportOptions {
  allowlist?: AddressAllowlist;
  /** Called from the socket callback when a datagram was queued (wakes the duty cycle). */
  onAvailable?: () => void;
  maxQueued?: number;
}

export class ControlTransport implements DatagramSender {
  private socket: Socket | undefined;
  private readonly queue: Inbound[] = [];
  private head = 0;
  private readonly allowlist: AddressAllowlist;
  private readonly onAvailable: (() => void) | undefined;
  private readonly maxQueued: number;
  private bound: BoundAddress | undefined;
  private closed = false;

  constructor(
    private readonly counters: ArchiverCounters,
    options: ControlTransportOptions = {},
  ) {
    this.allowlist = options.allowlist ?? new AddressAllowlist([]);
    this.onAvailable = options.onAvailable;
    this.maxQueued = options.maxQueued ?? 65536;
  }

  /** The bound address (after bind()). */
  get address(): BoundAddress | undefined {
    return this.bound;
  }

  /**
   * Binds host:port (port 0: any free port); resolves with the bound port. An address in use
   * is ADDRESS_IN_USE; any other failure (an address not on this host) INVALID_ARGUMENT.
   */
  bind(host: string, port: number): Promise<number> {
    if (this.socket) return Promise.reject(new Error('control transport already bound'));
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const where = formatHostPort(host, port);
        reject(
          err.code === 'EADDRINUSE'
            ? new VcrError(ErrorCode.ADDRESS_IN_USE, `control endpoint ${where} is already in use (another archiver?)`)
            : new VcrError(ErrorCode.INVALID_ARGUMENT, `cannot bind control endpoint ${where}: ${err.message}`),
        );
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        socket.on('error', () => this.counters.add('sendErrors'));
        socket.on('message', (data, rinfo) => this.onMessage(data, unmapIPv4(rinfo.address), rinfo.port));
        const a = socket.address() as AddressInfo;
        this.bound = { host, port: a.port };
        resolve(a.port);
      });
    });
  }

  private onMessage(data: Buffer, host: string, port: number): void {
    if (!this.allowlist.allows(host) || this.queue.length - this.head >= this.maxQueued || isOwnEndpoint(host, port, this.bound)) {
      this.counters.add('rejected');
      return;
    }
    this.queue.push({ data, host, port });
    this.onAvailable?.();
  }

  /** Hands up to limit queued datagrams to handler; returns how many. */
  poll(handler: DatagramHandler, limit: number): number {
    let n = 0;
    while (n < limit && this.head < this.queue.length) {
      const m = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Inbound;
      n++;
      handler(m.data, m.host, m.port);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 4096) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return n;
  }

  send(buf: Buffer, port: number, host: string): void {
    if (this.closed || !this.socket) return;
    try {
      this.socket.send(buf, 0, buf.length, port, host, (err) => {
        if (err) this.counters.add('sendErrors');
      });
    } catch {
      // a response address that cannot be sent to (bad port): count it, never throw
      this.counters.add('sendErrors');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
  }
}
