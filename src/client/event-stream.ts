/**
 * The client end of a streamed replay (docs/PROTOCOL.md "Streamed replay"): an async iterator
 * of RecordedEvents that asks for the stream (a StreamReplayRequest, answered with the stream
 * endpoint and a one-time token), connects to the endpoint, presents the token (StreamHello)
 * and hands out the events of each EventBatch as they arrive, until StreamEnd.
 *
 * Flow control is TCP's: frames wait in the connection's inbound queue (bounded; past 4 MiB the
 * socket is paused, the TCP window closes and the archiver stops reading) and only one batch at
 * a time is decoded, when the consumer asks for more. `next()` answers from the decoded batch
 * without an await of its own, so iterating costs one resolved promise per event.
 *
 * Ends: StreamEnd{SOURCE_ENDED} (everything asked for was sent) or {REQUESTED} (someone stopped
 * the replay) end the iteration; {ERROR} throws VcrError with the archiver's code, {SHUTDOWN}
 * IO_ERROR, {CLIENT_GONE} UNKNOWN_SESSION (the control session that asked is gone); a
 * connection lost before StreamEnd throws IO_ERROR. A consumer that stops early (break,
 * return()) closes the connection, which ends the stream in the archiver.
 */
import { StreamHelloEncoder } from '../../codecs/generated/stream/StreamHelloEncoder.js';
import { MessageHeaderEncoder } from '../../codecs/generated/stream/MessageHeaderEncoder.js';
import { MAX_STREAM_FRAME, STREAM_HEADER_LENGTH } from '../protocol/stream-layout.js';
import { Connection, ConnectionState } from '../transport/connection.js';
import type { ConnectionOptions } from '../transport/connection-options.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import { StreamAdapter, type StreamEndInfo } from './stream-adapter.js';
import type { RecordedEvent } from './types.js';

/** Where to connect and what to present: from the archiver's StreamGrant. */
export interface StreamTarget {
  host: string;
  port: number;
  token: bigint;
  replaySessionId: number;
}

export type StreamOpener = () => Promise<StreamTarget>;

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

export class EventStream implements AsyncIterableIterator<RecordedEvent> {
  private connection: Connection | undefined;
  private readonly adapter = new StreamAdapter();
  private queue: RecordedEvent[] = [];
  private head = 0;
  private helloSent = false;
  private finished = false;
  private failure: unknown;
  private target: StreamTarget | undefined;
  private opening: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly wake = (): void => {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  };
  private readonly onFrame = (buf: Buffer, offset: number, length: number): void => {
    this.adapter.onMessage(buf, offset, length, this.queue);
  };

  constructor(
    private readonly open: StreamOpener,
    private readonly options: ConnectionOptions = {},
  ) {}

  /** The replay session id the archiver gave the stream (once it was granted). */
  get replaySessionId(): number | undefined {
    return this.target?.replaySessionId;
  }

  /** How the stream ended, once StreamEnd arrived. */
  get endInfo(): StreamEndInfo | undefined {
    return this.adapter.ended;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.head < this.queue.length) return Promise.resolve({ value: this.queue[this.head++]!, done: false });
    return this.fill();
  }

  /** Stops early: closes the connection (the archiver ends the stream). */
  return(): Promise<IteratorResult<RecordedEvent>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<RecordedEvent>> {
    this.finish();
    return Promise.reject(err);
  }

  private async fill(): Promise<IteratorResult<RecordedEvent>> {
    if (this.failure !== undefined) throw this.failure;
    if (this.finished) return DONE;
    try {
      if (!this.connection) await (this.opening ??= this.connect());
      const c = this.connection!;
      for (;;) {
        if (!this.helloSent && c.state === ConnectionState.OPEN) this.sendHello(c);
        // decode frames until a batch with events is queued (or the stream ended)
        this.queue.length = 0;
        this.head = 0;
        while (this.queue.length === 0 && this.adapter.ended === undefined && c.poll(this.onFrame, 1) > 0) {
          // each frame is one message
        }
        if (this.queue.length > 0) return { value: this.queue[this.head++]!, done: false };
        const end = this.adapter.ended;
        if (end !== undefined) {
          this.finish();
          const err = endError(end);
          if (err) throw err;
          return DONE;
        }
        if (c.state === ConnectionState.CLOSED && c.inboundFrames === 0) {
          const why = c.error?.message ?? c.closeReason ?? 'closed';
          throw new VcrError(ErrorCode.IO_ERROR, `stream from ${c.remoteAddress}:${c.remotePort} lost before its end: ${why}`);
        }
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
          // a frame or a close may have come in since the poll above
          if (c.inboundFrames > 0 || c.state === ConnectionState.CLOSED || (!this.helloSent && c.state === ConnectionState.OPEN)) this.wake();
        });
      }
    } catch (err) {
      this.failure = isVcrError(err) ? err : new VcrError(ErrorCode.GENERIC, err instanceof Error ? err.message : String(err));
      this.finish();
      throw this.failure;
    }
  }

  private async connect(): Promise<void> {
    const target = await this.open();
    this.target = target;
    this.connection = Connection.connect(target.host, target.port, {
      maxFrameLength: MAX_STREAM_FRAME,
      // only the hello goes out
      maxSendFrameLength: 64,
      ...this.options,
      onOpen: this.wake,
      onReceive: this.wake,
    });
  }

  private sendHello(c: Connection): void {
    const scratch = Buffer.alloc(STREAM_HEADER_LENGTH + StreamHelloEncoder.BLOCK_LENGTH);
    new StreamHelloEncoder().wrapAndApplyHeader(scratch, 0, new MessageHeaderEncoder()).token(this.target!.token);
    c.send(scratch);
    c.flush();
    this.helloSent = true;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.queue = [];
    this.head = 0;
    const c = this.connection;
    if (c && c.state !== ConnectionState.CLOSED) c.abort('stream finished');
  }
}

/** The error a StreamEnd stands for, or undefined when the stream ended normally. */
function endError(end: StreamEndInfo): VcrError | undefined {
  switch (end.reason) {
    case 'SOURCE_ENDED':
    case 'REQUESTED':
      return undefined;
    case 'SHUTDOWN':
      return new VcrError(ErrorCode.IO_ERROR, 'the archiver shut down during the stream');
    case 'CLIENT_GONE':
      return new VcrError(ErrorCode.UNKNOWN_SESSION, 'the archiver ended the stream: the control session that asked for it is gone');
    default:
      return new VcrError((end.errorCode || ErrorCode.GENERIC) as never, end.message || 'the stream failed');
  }
}
