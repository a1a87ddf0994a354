/**
 * Inbound control protocol: decodes each datagram the ControlTransport queued with
 * ControlRequestDecoder and dispatches the request, with its source address and fingerprint, to
 * the handler (the conductor). A datagram that does not decode is counted as malformed and
 * handed to onMalformed to be answered at its source address: nothing a datagram contains
 * reaches the conductor unchecked. In-process tests feed dispatch() directly, no socket needed.
 */
import { crc32c } from '../util/crc32c.js';
import { ErrorCode } from '../util/errors.js';
import type { ArchiverCounters } from './archiver-counters.js';
import { ControlRequestDecoder, type MalformedRequest } from './control-request-decoder.js';
import type { ControlRequest } from './control-requests.js';
import type { DatagramHandler } from './control-transport.js';


/** Where a request came from. */
export interface RequestSource {
  host: string;
  port: number;
}

/** What the adapter dispatches to. */
export interface ControlRequestHandler {
  /**
   * A decoded request. `fingerprint` identifies the request (its type and a hash of its
   * bytes): a retry carries the same one, a different request reusing a correlationId not.
   */
  onRequest(request: ControlRequest, from: RequestSource, fingerprint: string): void;
  /** A datagram that could not be decoded: answer it (correlationId 0n when unreadable). */
  onMalformed(code: number, message: string, controlSessionId: number, correlationId: bigint, from: RequestSource): void;
}

/** Something that queues inbound datagrams (the ControlTransport). */
export interface InboundDatagrams {
  poll(handler: DatagramHandler, limit: number): number;
}

export class ControlAdapter {
  private readonly decoder = new ControlRequestDecoder();
  private readonly onDatagram: DatagramHandler = (data, host, port) => this.dispatch(data, host, port);

  constructor(
    private readonly handler: ControlRequestHandler,
    private readonly counters: ArchiverCounters,
    private readonly inbound?: InboundDatagrams,
  ) {}

  /** Decodes and dispatches up to limit queued datagrams; returns how many. */
  poll(limit = 256): number {
    return this.inbound ? this.inbound.poll(this.onDatagram, limit) : 0;
  }

  /** Decodes one datagram and hands it on. */
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
      this.handler.onMalformed(m.code ?? ErrorCode.MALFORMED_MESSAGE, m.message, sessionId, correlationId, { host, port });
      return;
    }
    this.handler.onRequest(request, { host, port }, `${request.type}:${crc32c(data, 0, data.length).toString(16)}`);
  }
}
