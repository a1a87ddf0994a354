/**
 * Inbound control traffic: the UDP socket's callback only copies datagrams into a bounded
 * queue (after the allowlist check); poll() on the archiver's duty cycle decodes them with
 * ControlRequestDecoder and hands requests to the conductor. A datagram that does not decode
 * is counted as malformed and answered with an ERROR response to its source address: nothing
 * a datagram contains reaches the conductor unchecked.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import { ControlRequestDecoder, type MalformedRequest } from './control-request-decoder.js';
import type { ControlRequest } from './control-requests.js';
import type { DatagramSender } from './udp-endpoint.js';

/** What the adapter dispatches: a decoded request with its source address. */
export interface ControlRequestHandler {
  onRequest(request: ControlRequest, host: string, port: number): void;
  /** A datagram that could not be decoded: answer it (correlationId 0n when unreadable). */
  onMalformed(code: number, message: string, controlSessionId: number, correlationId: bigint, host: string, port: number): void;
}

interface Inbound {
  data: Buffer;
  host: string;
  port: number;
}

/**
 * The control endpoint's socket plus the decoder. Datagrams queue (bounded; overflow is
 * dropped and counted as `rejected`) until the conductor's duty cycle polls them.
 */
export class ControlAdapter implements DatagramSender {
  private readonly socket: Socket;
  private readonly queue: Inbound[] = [];
  private head = 0;
  private readonly decoder = new ControlRequestDecoder();
  private readonly allow: Set<string> | undefined;
  onAvailable: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly handler: ControlRequestHandler,
    private readonly counters: ArchiverCounters,
    allowlist: string[] = [],
    private readonly maxQueued = 65536,
  ) {
    this.allow = allowlist.length > 0 ? new Set(allowlist) : undefined;
    this.socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.socket.on('message', (data, rinfo) => {
      if (this.allow && !this.allow.has(rinfo.address)) {
        this.counters.add('rejected');
        return;
      }
      if (this.queue.length - this.head >= this.maxQueued) {
        this.counters.add('rejected');
        return;
      }
      this.queue.push({ data, host: rinfo.address, port: rinfo.port });
      this.onAvailable?.();
    });
    this.socket.on('error', () => {
      this.counters.add('sendErrors');
    });
  }

  /** Binds the control endpoint; resolves with the bound port (useful with port 0). */
  bind(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        reject(new VcrError(ErrorCode.INVALID_ARGUMENT, `cannot bind control endpoint ${host}:${port}: ${err.message}`));
      };
      this.socket.once('error', onError);
      this.socket.bind(port, host, () => {
        this.socket.off('error', onError);
        resolve((this.socket.address() as AddressInfo).port);
      });
    });
  }

  /** Decodes and dispatches up to limit queued datagrams; returns how many. */
  poll(limit = 256): number {
    let n = 0;
    while (n < limit && this.head < this.queue.length) {
      const m = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Inbound;
      n++;
      this.dispatch(m.data, m.host, m.port);
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

  /** Decodes one datagram and hands it on (public for in-process tests and fuzzing). */
  dispatch(data: Buffer, host: string, port: number): void {
    this.counters.add('controlRequests');
    let request: ControlRequest;
    try {
      request = this.decoder.decode(data);
    } catch (err) {
      const m = err as MalformedRequest;
      this.counters.add('malformed');
      this.counters.add('controlMalformed');
      const [sessionId, correlationId] = ControlRequestDecoder.replyIds(data);
      this.handler.onMalformed(m.code ?? ErrorCode.MALFORMED_MESSAGE, m.message, sessionId, correlationId, host, port);
      return;
    }
    this.handler.onRequest(request, host, port);
  }

  send(buf: Buffer, port: number, host: string): void {
    if (this.closed) return;
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
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
