/**
 * UDP endpoints the archiver sends to or listens on: `udp://HOST:PORT[?interface=ADDR&ttl=N]`
 * for replay and notification destinations and response channels. Parsing is strict so a bad
 * destination is refused with INVALID_ARGUMENT before anything starts.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { ErrorCode, VcrError } from '../util/errors.js';

export interface UdpEndpoint {
  host: string;
  port: number;
  interface?: string;
  ttl?: number;
  multicast: boolean;
}

export function isMulticastIPv4(host: string): boolean {
  if (!isIPv4(host)) return false;
  const first = Number(host.split('.')[0]);
  return first >= 224 && first <= 239;
}

export function parseUdpEndpoint(uri: string, what = 'destination'): UdpEndpoint {
  const m = /^udp:\/\/([^:/?#\s]+):(\d{1,5})(?:\?([^#\s]*))?$/.exec(uri);
  if (!m) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} must be udp://HOST:PORT, got ${JSON.stringify(uri.slice(0, 200))}`);
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} port ${port} is out of range`);
  const ep: UdpEndpoint = { host, port, multicast: isMulticastIPv4(host) };
  if (m[3]) {
    for (const kv of m[3].split('&')) {
      if (kv === '') continue;
      const [k, v = ''] = kv.split('=');
      if (k === 'interface') {
        if (!isIPv4(v)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} interface must be an IPv4 address`);
        ep.interface = v;
      } else if (k === 'ttl') {
        const ttl = Number(v);
        if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
          throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} ttl must be 0-255`);
        }
        ep.ttl = ttl;
      } else {
        throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} has unknown parameter ${JSON.stringify(k)}`);
      }
    }
  }
  return ep;
}

/** Something datagrams can be sent through (a socket, or a test double recording them). */
export interface DatagramSender {
  /** Sends buf (which the caller must not reuse: the send completes asynchronously). */
  send(buf: Buffer, port: number, host: string): void;
}

/**
 * A sending socket for one destination kind (multicast options are per socket). Sends go
 * without a completion callback (a callback per datagram halves the send rate); backpressure
 * comes from the socket's own send queue (`getSendQueueCount`), which only grows when the
 * kernel refuses a datagram immediately. Errors are counted, never thrown (best effort).
 */
export class UdpSender implements DatagramSender {
  private readonly socket: Socket;
  errors = 0;
  private bound = false;
  private closed = false;

  constructor(ep?: Pick<UdpEndpoint, 'interface' | 'ttl' | 'multicast'>) {
    this.socket = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
    this.socket.on('error', () => {
      this.errors++;
    });
    this.socket.bind(0, () => {
      this.bound = true;
      if (!ep || !(ep.multicast || ep.interface || ep.ttl !== undefined)) return;
      try {
        if (ep.interface) this.socket.setMulticastInterface(ep.interface);
        if (ep.ttl !== undefined) this.socket.setMulticastTTL(ep.ttl);
        this.socket.setMulticastLoopback(true);
      } catch {
        this.errors++;
      }
    });
  }

  /** Datagrams not yet handed to the kernel (a large number until the socket is bound). */
  get inFlight(): number {
    if (this.closed) return 0;
    if (!this.bound) return Number.MAX_SAFE_INTEGER;
    return this.socket.getSendQueueCount();
  }

  send(buf: Buffer, port: number, host: string): void {
    if (this.closed) return;
    try {
      this.socket.send(buf, 0, buf.length, port, host);
    } catch {
      this.errors++;
    }
  }

  /** Closes once every queued send has left (closing earlier would discard them), within 2 s. */
  close(): void {
    if (this.closed) return;
    const queued = () => (this.bound ? this.socket.getSendQueueCount() : 1);
    this.closed = true;
    const deadline = Date.now() + 2000;
    const attempt = () => {
      if (queued() > 0 && Date.now() < deadline) {
        setTimeout(attempt, 2).unref();
        return;
      }
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    };
    attempt();
  }
}
