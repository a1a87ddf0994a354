/**
 * One framed-TCP connection (either side): a net.Socket carrying `[u32 LE length][SBE message]`
 * frames, with flow control both ways, driven agent style.
 *
 * Outbound. `send`/`trySend` copy a frame into a staging slab, `claim`/`commit` let a caller
 * encode straight into it (see SendBuffer: slabs are reused once the socket has written them). Staged bytes go to the socket as one write per
 * ~64 KiB batch, and at the latest on the next turn of the event loop (or on `flush()`).
 * `writable` is false while the bytes buffered in user space (staged + the socket's
 * `writableLength`, i.e. not yet taken by the kernel) exceed the high-water mark (default
 * 4 MiB); a producer that only sends while `writable` therefore holds at most the high-water
 * mark plus one frame in memory, whatever the peer does.
 * `onDrain` is called once the buffered bytes fall to the low-water mark (default half of it)
 * after `writable` had been seen false.
 *
 * Inbound. The socket callback only decodes frames and enqueues them (InboundQueue): 'data'
 * chunks through FrameDecoder for sockets made elsewhere (accepted ones), or reads straight
 * into a ReceiveSlab for sockets made by `Connection.connect` (no copy for frames that span
 * reads). The owner takes frames with `poll(handler, limit)` from its duty cycle. While
 * the queue holds more than `maxInboundBytes` (default 4 MiB) the socket is paused, so TCP
 * pushes back on the sender; it resumes when `poll` has brought the queue to half of that.
 * Per connection the inbound side holds at most that limit, plus one socket read (64 KiB),
 * plus one frame being assembled (at most `maxFrameLength`).
 *
 * Liveness. With `heartbeatIntervalMs` set, the owner steps `doWork()` from its duty cycle:
 * it sends a heartbeat frame when nothing was written for the interval, and aborts the
 * connection with a TIMEOUT when nothing at all was received for `heartbeatTimeoutMs` (see
 * Liveness for what counts). Heartbeats are never handed to `poll`.
 *
 * Errors. Nothing is thrown out of a socket callback: a socket error, a bad frame length
 * (REQUEST_TOO_LARGE / MALFORMED_MESSAGE) or an exception from a hook closes the
 * connection and is kept in `error`. Frames decoded before the connection closed stay
 * pollable, so an owner drains them and then looks at `state`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import { resolveConnectionOptions, type ConnectionOptions } from './connection-options.js';
import { FrameDecoder } from './frame-decoder.js';
import { InboundQueue, type FrameHandler } from './inbound-queue.js';
import { HEARTBEAT_LENGTH, Liveness, LivenessVerdict } from './liveness.js';
import { ReceiveSlab } from './receive-slab.js';
import { DEFAULT_SLAB_BYTES, SendBuffer, checkLength } from './send-buffer.js';

export const ConnectionState = {
  /** Connection.connect() is waiting for the TCP handshake; nothing can be sent yet */
  CONNECTING: 'CONNECTING',
  /** sending and receiving */
  OPEN: 'OPEN',
  /** close() was called: staged and buffered bytes are being written, then FIN */
  CLOSING: 'CLOSING',
  /** the socket is gone; queued inbound frames can still be polled */
  CLOSED: 'CLOSED',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export class Connection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly maxFrameLength: number;
  readonly maxSendFrameLength: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  readonly maxInboundBytes: number;
  onDrain: (() => void) | undefined;
  onReceive: (() => void) | undefined;
  onOpen: (() => void) | undefined;
  private currentState: ConnectionState = ConnectionState.OPEN;
  private reason: string | undefined;
  private failure: VcrError | undefined;
  /** decodes 'data' chunks (sockets created elsewhere, e.g. accepted) */
  private readonly decoder: FrameDecoder | undefined;
  /** decodes reads into its own memory (sockets made by Connection.connect) */
  private readonly slab: ReceiveSlab | undefined;
  private readonly inbound = new InboundQueue();
  private readonly outbound: SendBuffer;
  private readonly batchBytes: number;
  private readonly lingerMs: number;
  private readonly liveness: Liveness | undefined;
  private paused = false;
  private sawFull = false;
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private framesReceived = 0;
  private framesSent = 0;
  private bytesSent = 0;
  private bytesReceived = 0;

  private readonly flushNow = (bytes: Buffer): void => this.write(bytes);
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onWritten = (): void => this.checkDrain();
  private readonly onRun = (buffer: Buffer, start: number, end: number, frames: number): void => {
    this.inbound.append(buffer, start, end, frames);
    this.framesReceived += frames;
  };

  /**
   * Opens a connection to HOST:PORT (an address literal: parse endpoints with
   * src/util/endpoint.ts first). It starts CONNECTING and becomes OPEN when the TCP handshake
   * completes, or CLOSED with an IO_ERROR. Its socket reads straight into a receive slab
   * (ReceiveSlab), so frames arrive without an assembly copy. `localAddress` binds the
   * socket's own end to that address (the peer then sees the connection come from it).
   */
  static connect(host: string, port: number, options: ConnectionOptions = {}, localAddress?: string): Connection {
    const o = resolveConnectionOptions(options);
    const slab = new ReceiveSlab(o.maxFrameLength);
    let connection: Connection | undefined;
    const socket = netConnect({
      host,
      port,
      ...(localAddress !== undefined ? { localAddress } : {}),
      noDelay: true,
      onread: { buffer: slab.nextBuffer, callback: (nread: number) => connection!.onSlabRead(nread) },
    });
    connection = new Connection(socket, options, { slab, host, port });
    return connection;
  }

  /**
   * Wraps a socket, connected or connecting (e.g. one a net.Server accepted). `peer` is
   * Connection.connect's: the slab its socket reads into, and the address it dials.
   */
  constructor(
    private readonly socket: Socket,
    options: ConnectionOptions = {},
    peer?: { slab: ReceiveSlab; host: string; port: number },
  ) {
    const o = resolveConnectionOptions(options);
    this.maxFrameLength = o.maxFrameLength;
    this.maxSendFrameLength = o.maxSendFrameLength;
    this.highWaterMark = o.highWaterMark;
    this.lowWaterMark = o.lowWaterMark;
    this.maxInboundBytes = o.maxInboundBytes;
    this.batchBytes = o.batchBytes;
    this.lingerMs = o.lingerMs;
    this.liveness = o.heartbeatIntervalMs > 0 ? new Liveness(o.heartbeatIntervalMs, o.heartbeatTimeoutMs, o.clock) : undefined;
    this.onDrain = options.onDrain;
    this.onReceive = options.onReceive;
    this.onOpen = options.onOpen;
    this.slab = peer?.slab;
    this.decoder = this.slab ? undefined : new FrameDecoder(this.maxFrameLength);
    // slabs are reused once the socket has written them (its writableLength says how far it is);
    // a backed-up connection keeps at most its bytes in flight (high-water mark + a frame) in slabs
    this.outbound = new SendBuffer(this.maxSendFrameLength, {
      slabBytes: Math.max(DEFAULT_SLAB_BYTES, this.batchBytes * 2),
      unwritten: () => this.socket.writableLength,
      maxPooledBytes: 2 * this.highWaterMark,
    });
    this.remoteAddress = socket.remoteAddress ?? peer?.host ?? '';
    this.remotePort = socket.remotePort ?? peer?.port ?? 0;
    socket.setNoDelay(true); // frames are batched here; Nagle would only add latency
    if (!this.slab) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (socket.connecting) {
      this.currentState = ConnectionState.CONNECTING;
      socket.once('connect', () => {
        if (this.currentState !== ConnectionState.CONNECTING) return;
        this.currentState = ConnectionState.OPEN;
        if (this.onOpen) this.callHook(this.onOpen, 'onOpen');
      });
    }
    socket.on('error', (err: Error) => this.onSocketError(err));
    socket.on('end', () => this.onPeerEnd());
    socket.on('close', () => this.onSocketClose());
    if (socket.destroyed) this.onSocketClose();
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get isOpen(): boolean {
    return this.currentState === ConnectionState.OPEN;
  }

  /** Why the connection closed (or is closing); undefined while open. */
  get closeReason(): string | undefined {
    return this.reason;
  }

  /** The error that closed the connection; undefined while open and after a clean close. */
  get error(): VcrError | undefined {
    return this.failure;
  }

  /** Outbound bytes not yet taken by the kernel: staged here plus buffered in the socket. */
  get bufferedBytes(): number {
    return this.outbound.staged + this.socket.writableLength;
  }

  /** True while open and the buffered bytes are within the high-water mark. */
  get writable(): boolean {
    if (this.currentState !== ConnectionState.OPEN) return false;
    if (this.bufferedBytes < this.highWaterMark) return true;
    this.sawFull = true;
    return false;
  }

  /** Inbound bytes decoded and waiting for `poll`. */
  get inboundBytes(): number {
    return this.inbound.bytes;
  }

  get inboundFrames(): number {
    return this.inbound.frames;
  }

  /** True while the socket is paused because the inbound queue is over its limit. */
  get isReadPaused(): boolean {
    return this.paused;
  }

  /** Counters; `sendSlabsAllocated`: staging slabs allocated so far (reused ones are not counted again). */
  get stats(): { framesSent: number; bytesSent: number; framesReceived: number; bytesReceived: number; sendSlabsAllocated: number } {
    return {
      framesSent: this.framesSent,
      bytesSent: this.bytesSent,
      framesReceived: this.framesReceived,
      bytesReceived: this.bytesReceived,
      sendSlabsAllocated: this.outbound.allocations,
    };
  }

  /**
   * Sends one frame whatever the buffered bytes (for messages that must go, such as an end of
   * stream; producers of bulk data use `trySend`). The payload is copied: the caller may reuse
   * it at once. Returns false (and sends nothing) when the connection is not open. A payload
   * shorter than a message header or longer than maxSendFrameLength is refused with a VcrError.
   */
  send(payload: Uint8Array, offset = 0, length = payload.length - offset): boolean {
    checkLength(length, this.maxSendFrameLength);
    if (this.currentState !== ConnectionState.OPEN) return false;
    const at = this.outbound.claim(length, this.flushNow);
    const dst = this.outbound.buffer;
    dst.set(length === payload.length && offset === 0 ? payload : payload.subarray(offset, offset + length), at);
    this.commit(length);
    return true;
  }

  /** Sends one frame only while `writable`; false means not sent (back-pressure, or not open). */
  trySend(payload: Uint8Array, offset = 0, length = payload.length - offset): boolean {
    if (!this.writable) return false;
    return this.send(payload, offset, length);
  }

  /**
   * Reserves room for a frame payload of up to `maxLength` bytes in `claimBuffer` and returns
   * its offset, or -1 when not `writable`. Encode the message there, then call `commit(length)`.
   * Nothing else may be sent between the two calls.
   */
  tryClaim(maxLength: number): number {
    if (!this.writable) return -1;
    return this.outbound.claim(maxLength, this.flushNow);
  }

  /** Like tryClaim but regardless of back-pressure (-1 only when not open). */
  claim(maxLength: number): number {
    checkLength(maxLength, this.maxSendFrameLength);
    if (this.currentState !== ConnectionState.OPEN) return -1;
    return this.outbound.claim(maxLength, this.flushNow);
  }

  /** The buffer a claim's offset points into (valid until commit). */
  get claimBuffer(): Buffer {
    return this.outbound.buffer;
  }

  /** Ends a claim: the payload is `length` bytes (default: all that was claimed). */
  commit(length?: number): void {
    this.outbound.commit(length);
    this.framesSent++;
    if (this.outbound.staged >= this.batchBytes) this.flush();
    else this.scheduleFlush();
  }

  /** Drops a claim: nothing is sent. */
  abortClaim(): void {
    this.outbound.abort();
  }

  /** Writes the staged bytes to the socket now; returns how many. */
  flush(): number {
    const bytes = this.outbound.take();
    if (!bytes || this.socket.destroyed) return 0; // after abort() staged bytes are dropped
    this.write(bytes);
    return bytes.length;
  }

  /**
   * The liveness duty (only with heartbeats; call it from the owner's duty cycle, at least
   * every `heartbeatIntervalMs`): sends a heartbeat when nothing was written for the interval,
   * aborts with a TIMEOUT when nothing was received for the timeout. Returns the work done.
   */
  doWork(): number {
    const l = this.liveness;
    if (!l || this.currentState !== ConnectionState.OPEN) return 0;
    const verdict = l.check(this.paused, this.bufferedBytes === 0 && !this.outbound.claimed);
    if (verdict === LivenessVerdict.ALIVE) return 0;
    if (verdict === LivenessVerdict.DEAD) {
      const what = `nothing received from ${this.remoteAddress}:${this.remotePort} for ${l.silenceMs} ms (heartbeat timeout ${l.timeoutMs} ms): the peer or the link is dead`;
      this.abort(`heartbeat timeout after ${l.silenceMs} ms`, new VcrError(ErrorCode.TIMEOUT, what));
      return 1;
    }
    const at = this.outbound.claim(HEARTBEAT_LENGTH, this.flushNow);
    this.outbound.buffer.fill(0, at, at + HEARTBEAT_LENGTH);
    this.outbound.commit(HEARTBEAT_LENGTH);
    this.flush();
    l.heartbeatSent();
    return 1;
  }

  /**
   * Hands up to `limit` received frames to `handler` (see FrameHandler for how long the bytes
   * stay valid) and returns how many: the work count of the owner's duty cycle. Resumes a
   * paused socket once the queue is down to half its limit. An exception from the handler
   * propagates (the frame counts as taken).
   */
  poll(handler: FrameHandler, limit = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    try {
      n = this.inbound.poll(handler, limit);
    } finally {
      if (this.paused && this.inbound.bytes <= this.maxInboundBytes / 2 && this.currentState !== ConnectionState.CLOSED) {
        this.paused = false;
        this.socket.resume();
      }
    }
    return n;
  }

  /**
   * Closes gracefully: what is staged and buffered is still written, then FIN. The socket is
   * destroyed when the peer has it all, or after `lingerMs` if the peer does not read.
   * `error`, if given, is kept as the reason for the owner. Idempotent.
   */
  close(reason: string, error?: VcrError): void {
    if (this.currentState === ConnectionState.CONNECTING) return this.abort(reason, error);
    if (this.currentState !== ConnectionState.OPEN) return;
    this.setClosed(ConnectionState.CLOSING, reason, error);
    this.outbound.abort();
    this.flush();
    this.socket.end();
    if (this.paused) {
      // the peer's FIN is only seen once its data has been read: read (and drop) the rest
      this.paused = false;
      this.socket.resume();
    }
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.lingerMs);
    this.lingerTimer.unref();
  }

  /** Closes at once: buffered bytes are dropped. Idempotent. */
  abort(reason: string, error?: VcrError): void {
    if (this.currentState === ConnectionState.CLOSED) return;
    if (this.currentState === ConnectionState.OPEN || this.currentState === ConnectionState.CONNECTING) {
      this.setClosed(ConnectionState.CLOSING, reason, error);
    }
    this.socket.destroy();
  }

  private setClosed(state: ConnectionState, reason: string, error?: VcrError): void {
    this.currentState = state;
    this.reason ??= reason;
    this.failure ??= error;
  }

  private write(bytes: Buffer): void {
    this.bytesSent += bytes.length;
    this.liveness?.onSent();
    this.socket.write(bytes, this.onWritten);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.scheduledFlush);
  }

  private checkDrain(): void {
    if (!this.sawFull || this.currentState !== ConnectionState.OPEN) return;
    if (this.bufferedBytes > this.lowWaterMark) return;
    this.sawFull = false;
    if (this.onDrain) this.callHook(this.onDrain, 'onDrain');
  }

  /** Runs an owner's hook from a socket callback: an exception closes the connection, never escapes. */
  private callHook(hook: () => void, name: string): void {
    try {
      hook();
    } catch (err) {
      this.abort(`${name} threw`, asVcrError(err, ErrorCode.GENERIC, `${name} callback failed`));
    }
  }

  private onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.liveness?.onReceived();
    // after close() the owner takes no more frames; a peer's end or error means none follow
    if (this.currentState !== ConnectionState.OPEN) return;
    this.decode(chunk, chunk.length);
  }

  /** Node's onread callback: returns true (pausing is done with socket.pause(), as in chunk mode). */
  private onSlabRead(nread: number): boolean {
    this.bytesReceived += nread;
    this.liveness?.onReceived();
    if (this.currentState === ConnectionState.OPEN) this.decode(undefined, nread);
    return true;
  }

  private decode(chunk: Buffer | undefined, nread: number): void {
    const before = this.framesReceived;
    try {
      if (chunk) this.decoder!.decode(chunk, this.onRun);
      else this.slab!.received(nread, this.onRun);
    } catch (err) {
      this.abort(`bad frame from ${this.remoteAddress}:${this.remotePort}`, asVcrError(err, ErrorCode.MALFORMED_MESSAGE, 'frame decoding failed'));
      if (this.framesReceived > before && this.onReceive) this.callHook(this.onReceive, 'onReceive');
      return;
    }
    if (this.framesReceived > before && this.onReceive) this.callHook(this.onReceive, 'onReceive');
    if (!this.paused && this.inbound.bytes > this.maxInboundBytes) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private onSocketError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    this.setClosed(
      this.currentState === ConnectionState.CLOSED ? ConnectionState.CLOSED : ConnectionState.CLOSING,
      `socket error ${code}`,
      new VcrError(ErrorCode.IO_ERROR, `connection to ${this.remoteAddress}:${this.remotePort}: ${err.message}`, { cause: err }),
    );
  }

  private onPeerEnd(): void {
    // allowHalfOpen is off: Node ends our side too once buffered bytes are written
    if (this.currentState === ConnectionState.OPEN) this.setClosed(ConnectionState.CLOSING, 'closed by the peer');
  }

  private onSocketClose(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const partial = (this.decoder ?? this.slab!).partialBytes;
    if (this.currentState === ConnectionState.OPEN) this.reason ??= 'closed by the peer';
    if (partial > 0 && !this.failure && this.reason === 'closed by the peer') {
      this.failure = new VcrError(ErrorCode.MALFORMED_MESSAGE, `connection closed by ${this.remoteAddress}:${this.remotePort} in the middle of a frame (${partial} bytes)`);
    }
    this.currentState = ConnectionState.CLOSED;
    this.paused = false;
    if (this.onReceive) this.callHook(this.onReceive, 'onReceive');
  }
}

function asVcrError(err: unknown, code: (typeof ErrorCode)[keyof typeof ErrorCode], what: string): VcrError {
  if (isVcrError(err)) return err;
  return new VcrError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}


