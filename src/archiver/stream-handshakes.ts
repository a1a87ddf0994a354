/**
 * Connections to the stream endpoint that have not presented a token yet. The first frame a
 * client sends must be a StreamHello (codecs/stream.xml) carrying the token of its StreamGrant;
 * this adapter decodes it and hands (connection, token) to the owner, which decides. A
 * connection that sends anything else is answered with StreamEnd{ERROR, MALFORMED_MESSAGE /
 * UNKNOWN_TEMPLATE / UNSUPPORTED_VERSION} and closed; one that sends nothing within the hello
 * timeout gets StreamEnd{ERROR, TIMEOUT}. At most `maxPending` wait at once: beyond that a new
 * connection is closed at once (counted), so a flood of idle connects costs a bounded amount.
 */
import { MessageHeaderDecoder, StreamHelloDecoder } from '../../codecs/generated/stream/index.js';
import type { Connection } from '../transport/connection.js';
import { ErrorCode } from '../util/errors.js';
import { StreamProxy } from './stream-proxy.js';

const HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;

export interface HelloResult {
  token: bigint;
}

interface Pending {
  connection: Connection;
  deadlineNs: bigint;
}

export class StreamHandshakes {
  private pending: Pending[] = [];
  private readonly hello = new StreamHelloDecoder();
  private decoded: { token: bigint } | { code: number; message: string } | undefined;
  refused = 0;

  private readonly onFrame = (buf: Buffer, offset: number, length: number): void => {
    this.decoded = this.decode(buf, offset, length);
  };

  constructor(
    private readonly helloTimeoutNs: bigint,
    private readonly maxPending = 64,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  /** A new connection: it has helloTimeoutNs from nowNs to present its token. */
  add(connection: Connection, nowNs: bigint): void {
    if (this.pending.length >= this.maxPending) {
      this.refused++;
      connection.abort('too many stream connections waiting for their hello');
      return;
    }
    this.pending.push({ connection, deadlineNs: nowNs + this.helloTimeoutNs });
  }

  /** Decodes waiting hellos; `onHello` gets each connection that presented a token. Returns work done. */
  poll(nowNs: bigint, onHello: (connection: Connection, token: bigint) => void): number {
    let work = 0;
    let removed = false;
    for (const p of this.pending) {
      const c = p.connection;
      this.decoded = undefined;
      c.poll(this.onFrame, 1);
      const d = this.decoded as HelloResult | { code: number; message: string } | undefined;
      if (d !== undefined) {
        work++;
        removed = true;
        p.deadlineNs = -1n;
        if ('token' in d) onHello(c, d.token);
        else refuse(c, d.code, d.message);
      } else if (!c.isOpen) {
        removed = true;
        p.deadlineNs = -1n;
        c.abort('closed before its hello');
      } else if (nowNs > p.deadlineNs) {
        work++;
        removed = true;
        p.deadlineNs = -1n;
        refuse(c, ErrorCode.TIMEOUT, 'no StreamHello in time');
      }
    }
    if (removed) this.pending = this.pending.filter((p) => p.deadlineNs >= 0n);
    return work;
  }

  /** Closes every waiting connection. */
  close(): void {
    for (const p of this.pending) p.connection.abort('archiver closing');
    this.pending = [];
  }

  private decode(buf: Buffer, offset: number, length: number): HelloResult | { code: number; message: string } {
    if (length < HEADER_LENGTH) return { code: ErrorCode.MALFORMED_MESSAGE, message: 'message shorter than its header' };
    const blockLength = buf.readUInt16LE(offset);
    const templateId = buf.readUInt16LE(offset + 2);
    const schemaId = buf.readUInt16LE(offset + 4);
    const version = buf.readUInt16LE(offset + 6);
    if (schemaId !== StreamHelloDecoder.SCHEMA_ID) return { code: ErrorCode.MALFORMED_MESSAGE, message: `schema id ${schemaId} is not ${StreamHelloDecoder.SCHEMA_ID}` };
    if (templateId !== StreamHelloDecoder.TEMPLATE_ID) return { code: ErrorCode.UNKNOWN_TEMPLATE, message: `template id ${templateId} is not StreamHello` };
    if (version < 1) return { code: ErrorCode.MALFORMED_MESSAGE, message: `schema version ${version} is invalid` };
    if (version > StreamHelloDecoder.SCHEMA_VERSION) {
      return { code: ErrorCode.UNSUPPORTED_VERSION, message: `schema version ${version} is newer than ${StreamHelloDecoder.SCHEMA_VERSION}` };
    }
    if (blockLength < StreamHelloDecoder.BLOCK_LENGTH || length < HEADER_LENGTH + blockLength) {
      return { code: ErrorCode.MALFORMED_MESSAGE, message: `StreamHello of ${length} bytes, block length ${blockLength}` };
    }
    return { token: this.hello.wrap(buf.subarray(offset, offset + length), HEADER_LENGTH, blockLength, version).token() };
  }
}

/** Answers a connection the stream endpoint will not serve, then closes it. */
export function refuse(connection: Connection, code: number, message: string): void {
  new StreamProxy(connection).streamEnd('ERROR', code, 0, 0, message);
  connection.close(message);
}
