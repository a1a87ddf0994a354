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
 * A sending socket for one destination kind (multicast options are per socket). Counts sends
 * still in flight so replays can hold back instead of queueing without bound, and counts send
 * errors instead of throwing (best effort).
 *
 * A plain unicast sender connects its socket to the first destination it sends to: a
 * connected socket skips the per-send address lookup, which is most of the cost of a send at
 * replay speed 0. Sends to any other destination go through a second, unconnected socket.
 */
export class UdpSender implements DatagramSender {
  private readonly socket: Socket;
  private readonly connectable: boolean;
  private connectedPort = 0;
  private connectedHost = '';
  private connected = false;
  private other: Socket | undefined;
  inFlight = 0;
  errors = 0;
  private closed = false;
  private closing = false;
  private readonly onSent = (err: Error | null): void => {
    this.inFlight--;
    if (err) this.errors++;
    if (this.closing && this.inFlight === 0) this.closeSockets();
  };
  private readonly onError = (): void => {
    this.errors++;
  };

  constructor(ep?: Pick<UdpEndpoint, 'interface' | 'ttl' | 'multicast'>) {
    this.socket = createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
    this.socket.on('error', this.onError);
    this.connectable = !(ep && (ep.multicast || ep.interface || ep.ttl !== undefined));
    if (!this.connectable && ep) {
      this.socket.bind(0, () => {
        try {
          if (ep.interface) this.socket.setMulticastInterface(ep.interface);
          if (ep.ttl !== undefined) this.socket.setMulticastTTL(ep.ttl);
          this.socket.setMulticastLoopback(true);
        } catch {
          this.errors++;
        }
      });
    }
  }

  send(buf: Buffer, port: number, host: string): void {
    if (this.closed) return;
    this.inFlight++;
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
      this.inFlight--;
      this.errors++;
    }
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
    for (const s of [this.socket, this.other]) {
      try {
        s?.close();
      } catch {
        // already closed
      }
    }
  }
}
