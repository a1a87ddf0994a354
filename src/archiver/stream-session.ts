/**
 * One streamed replay to a client (docs/PROTOCOL.md "Streamed replay"): granted by a
 * StreamReplayRequest, it waits for its client to connect to the stream endpoint and present
 * the token (StreamManager matches them), then writes the events of its StreamMerge into
 * EventBatch messages on that connection, only while the connection is writable, then a
 * StreamEnd.
 *
 * Memory: a batch is begun only while the connection's buffered bytes are below its high-water
 * mark, so a client that stops reading costs this archiver at most the high-water mark plus one
 * batch (64 KiB, or one larger event with its overheads) plus the small StreamRecording /
 * StreamEnd messages; the rest stays on disk until the client reads again.
 *
 * A stream that ran out of events sends StreamEnd{SOURCE_ENDED} and stays ENDING until the
 * kernel has taken every byte (so a slow reader still gets all of it), then closes the
 * connection. A stream stopped for any other reason (StopReplayRequest, its control session
 * gone, shutdown, a read error) sends StreamEnd with that reason and closes at once (the bytes
 * already buffered still go out, within the connection's linger time). A client that closes the
 * connection ends it CLIENT_GONE; a client that never connects ends it after the connect
 * timeout.
 */
import type { Session } from '../agent/agent.js';
import { ConnectionState, type Connection } from '../transport/connection.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import type { StopReasonName } from './notification-proxy.js';
import { PumpResult, type StreamInputSpec, type StreamMerge } from './stream-merge.js';
import { DEFAULT_STREAM_BATCH_BYTES, StreamProxy } from './stream-proxy.js';

export const StreamSessionState = {
  /** granted; waiting for the client to connect with the token */
  AWAITING_CLIENT: 'AWAITING_CLIENT',
  /** sending events */
  STREAMING: 'STREAMING',
  /** StreamEnd sent; waiting for the kernel to take the last bytes before closing */
  ENDING: 'ENDING',
  DONE: 'DONE',
} as const;
export type StreamSessionState = (typeof StreamSessionState)[keyof typeof StreamSessionState];

export interface StreamSessionOptions {
  /** The control session that asked, and the address its requests come from. */
  owner: { controlSessionId: number; host: string };
  token: bigint;
  /** Monotonic ns by which the client must have connected. */
  connectDeadlineNs: bigint;
  /** For the ReplayStarted notification. */
  fromUtcNs: bigint | null;
  toUtcNs: bigint | null;
  /** Channels whose recordings that start later join (a follow read over channels). */
  followChannels?: string[];
  /** Batches committed per doWork() at most (default 8: 512 KiB, so recording is never starved). */
  maxBatchesPerCycle?: number;
  batchBytes?: number;
}

export class StreamSession implements Session {
  private stateValue: StreamSessionState = StreamSessionState.AWAITING_CLIENT;
  private connection: Connection | undefined;
  private proxy: StreamProxy | undefined;
  private readonly maxBatches: number;
  private attached = false;
  endReason: StopReasonName | undefined;
  errorCode: number = ErrorCode.OK;
  errorMessage = '';
  /** Called once when the client has connected and the stream starts. */
  onStarted: ((s: StreamSession) => void) | undefined;

  constructor(
    readonly sessionId: number,
    private readonly merge: StreamMerge,
    readonly options: StreamSessionOptions,
    private readonly monoNs: () => bigint,
  ) {
    this.maxBatches = options.maxBatchesPerCycle ?? 8;
  }

  get state(): StreamSessionState {
    return this.stateValue;
  }

  get token(): bigint {
    return this.options.token;
  }

  get owner(): { controlSessionId: number; host: string } {
    return this.options.owner;
  }

  /** Whether a client connected (false: it ended before anything was sent). */
  get started(): boolean {
    return this.attached;
  }

  get eventsSent(): number {
    return this.merge.eventsSent;
  }

  get bytesSent(): number {
    return this.merge.bytesSent;
  }

  get recordingCount(): number {
    return this.merge.recordingIds.length;
  }

  /** The connection (for tests and stats): undefined until the client connects. */
  get conn(): Connection | undefined {
    return this.connection;
  }

  isDone(): boolean {
    return this.stateValue === StreamSessionState.DONE;
  }

  /** The client presented the token on `connection`: the stream starts. */
  attach(connection: Connection): void {
    if (this.stateValue !== StreamSessionState.AWAITING_CLIENT) {
      connection.abort('stream already attached');
      return;
    }
    this.connection = connection;
    this.proxy = new StreamProxy(connection, this.options.batchBytes ?? DEFAULT_STREAM_BATCH_BYTES);
    this.stateValue = StreamSessionState.STREAMING;
    this.attached = true;
    this.onStarted?.(this);
  }

  /** A recording joins (follow read over channels). */
  addInput(spec: StreamInputSpec): void {
    if (this.isDone()) spec.reader.close();
    else this.merge.add(spec);
  }

  doWork(): number {
    switch (this.stateValue) {
      case StreamSessionState.AWAITING_CLIENT:
        if (this.monoNs() <= this.options.connectDeadlineNs) return 0;
        this.finish('ERROR', ErrorCode.TIMEOUT, 'no client connected with the token in time');
        return 1;
      case StreamSessionState.STREAMING:
        return this.stream();
      case StreamSessionState.ENDING: {
        const c = this.connection!;
        if (c.state === ConnectionState.OPEN && c.bufferedBytes > 0) return 0;
        c.close('stream ended');
        this.stateValue = StreamSessionState.DONE;
        return 1;
      }
      default:
        return 0;
    }
  }

  private stream(): number {
    const c = this.connection!;
    if (!c.isOpen) {
      this.finish('CLIENT_GONE', ErrorCode.OK, c.error?.message ?? c.closeReason ?? 'connection closed');
      return 1;
    }
    const before = this.merge.eventsSent;
    let result: PumpResult;
    try {
      result = this.merge.pump(this.proxy!, this.maxBatches);
    } catch (err) {
      this.proxy!.abort();
      this.fail(err);
      return 1;
    }
    const work = this.merge.eventsSent - before;
    if (result === PumpResult.END) {
      this.endReason = 'SOURCE_ENDED';
      this.merge.close();
      this.proxy!.streamEnd('SOURCE_ENDED', ErrorCode.OK, this.merge.eventsSent, this.merge.bytesSent, '');
      c.flush();
      this.stateValue = StreamSessionState.ENDING;
      return work + 1;
    }
    return work;
  }

  stop(reason: StopReasonName): void {
    this.finish(reason, ErrorCode.OK, '');
  }

  /** Ends the stream because of an error (a read failed, doWork threw). */
  fail(err: unknown): void {
    const code = isVcrError(err) ? err.code : ErrorCode.GENERIC;
    this.finish('ERROR', code, err instanceof Error ? err.message : String(err));
  }

  private finish(reason: StopReasonName, code: number, message: string): void {
    const was = this.stateValue;
    if (was === StreamSessionState.DONE) return;
    this.stateValue = StreamSessionState.DONE;
    this.merge.close();
    const c = this.connection;
    if (was === StreamSessionState.ENDING) {
      // StreamEnd is out already: let the last bytes go
      c!.close('stream ended');
      return;
    }
    this.endReason = code !== ErrorCode.OK ? 'ERROR' : reason;
    this.errorCode = code;
    this.errorMessage = message;
    if (!c) return;
    if (c.isOpen) {
      this.proxy!.abort();
      this.proxy!.streamEnd(this.endReason, code, this.merge.eventsSent, this.merge.bytesSent, message);
      c.close(`stream ended: ${this.endReason}`);
    } else {
      c.abort('stream ended');
    }
  }

  close(): void {
    this.finish('SHUTDOWN', ErrorCode.OK, '');
  }
}
