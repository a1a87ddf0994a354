/**
 * What the recorder polls. A Source turns a socket, file or stream into raw events with
 * receipt timestamps. I/O callbacks only enqueue (into a bounded queue, taking the UTC and
 * monotonic receipt times from the injected clocks); the recorder's duty cycle calls poll(),
 * which hands each event to the handler flyweight-style: the (buffer, offset, length) view is
 * valid only during the call, so the handler must copy what it keeps. A record that ends its
 * input without a separator is flagged UNTERMINATED, so a replay to a file reproduces the input
 * byte for byte.
 *
 * Wiring in an archiver:
 *   const source = createSource(uri, { utcClock });   // one MonotonicUtcClock per archiver
 *   await source.open();                              // VcrError SOURCE_FAILED if it cannot
 *   source.onAvailable = () => runner.wake();         // cut the runner's park short
 *   // in the recorder session's doWork():
 *   work += source.poll(onEvent, 256);
 *   if (source.isEnded()) ... stop the recording (file read, stdin closed)
 */
import { SOURCE_IPV4, SOURCE_IPV6 } from '../util/source-address.js';
import type { SourceSpec } from './uri.js';

/**
 * `flags`: SourceEventFlags bits (0 for an ordinary event). With SOURCE_IPV4 or SOURCE_IPV6 the
 * datagram's source address, encoded as src/util/source-address.ts says (6 or 18 bytes), is
 * `source[sourceOffset..]`, valid during the call only.
 */
export type SourceEventHandler = (buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags: number, source?: Uint8Array, sourceOffset?: number) => void;

/** Bits of a source event's flags; the archive stores them as the frame's flags (storage FrameFlags). */
export const SourceEventFlags = {
  /**
   * The input ended (end of file or stream, a rotated or truncated file, the recording stopped)
   * with this record and no separator after it: a byte-exact copy of the input writes none.
   */
  UNTERMINATED: 1,
  /** The event is a datagram whose IPv4 source address and port come with it (6 bytes). */
  SOURCE_IPV4: SOURCE_IPV4,
  /** The event is a datagram whose IPv6 source address and port come with it (18 bytes). */
  SOURCE_IPV6: SOURCE_IPV6,
} as const;

export type SourceKind = 'udp' | 'file' | 'stdin' | 'pcap';

/** Monotonic counters; the archiver reports them in stats. */
export interface SourceCounters {
  /** Events handed to poll handlers. */
  events: number;
  /** Payload bytes of those events. */
  bytes: number;
  /** Datagrams the kernel dropped for this socket (/proc/net/udp drops), UDP only. */
  kernelDrops: number;
  /** Records longer than the maximum event size: reported and skipped. */
  oversize: number;
  /** Events dropped by the source itself because its bounded queue was full. */
  queueDrops: number;
  /** Inputs that could not be turned into events (malformed). */
  malformed: number;
  /** I/O errors seen (the last one is in lastError). */
  errors: number;
}

export function newSourceCounters(): SourceCounters {
  return { events: 0, bytes: 0, kernelDrops: 0, oversize: 0, queueDrops: 0, malformed: 0, errors: 0 };
}

export const SourceState = {
  INIT: 'INIT',
  OPENING: 'OPENING',
  ACTIVE: 'ACTIVE',
  /** Input fully read (file without follow, stdin closed): no more events will come. */
  ENDED: 'ENDED',
  FAILED: 'FAILED',
  CLOSED: 'CLOSED',
} as const;
export type SourceState = (typeof SourceState)[keyof typeof SourceState];

/** A source in one of these states will deliver no more events. */
export function isEndState(s: SourceState): boolean {
  return s === SourceState.ENDED || s === SourceState.FAILED || s === SourceState.CLOSED;
}

export interface Source {
  readonly kind: SourceKind;
  /** The URI it was made from (canonical form). */
  readonly uri: string;
  readonly spec: SourceSpec;
  readonly state: SourceState;
  readonly counters: SourceCounters;
  /** The last I/O error (a VcrError with code SOURCE_FAILED), if any. */
  readonly lastError: Error | undefined;
  /**
   * Bind the socket / open the file / attach to the stream. Rejects with a VcrError
   * (SOURCE_FAILED) naming the problem. Calling poll() before open() resolves returns 0.
   */
  open(): Promise<void>;
  /**
   * Hand up to `limit` queued events to handler; returns how many. Also drives the source's
   * own background steps (next file read, /proc refresh), so call it every duty cycle.
   */
  poll(handler: SourceEventHandler, limit: number): number;
  /** True when no event will ever come again (file fully read, stdin ended). UDP never ends. */
  isEnded(): boolean;
  /**
   * The recording stops: hands every event the source still holds to handler, including a last
   * record that has no separator yet (a followed file, an open stream), flagged UNTERMINATED;
   * returns how many. Reads nothing new; call close() next. UDP holds only whole datagrams,
   * which poll() hands out, so its flush delivers nothing.
   */
  flush(handler: SourceEventHandler): number;
  /**
   * The URI with what opening decided: for UDP the bound port in place of port 0 (and the
   * canonical form); otherwise, and before open() resolved, the URI as given.
   */
  boundUri(): string;
  /**
   * Called (from an I/O callback) when something was enqueued: use it to wake a parked
   * AgentRunner. Must only schedule, never do work.
   */
  onAvailable: (() => void) | undefined;
  /**
   * A source that dates its events itself (a packet capture, with the capture's times) says
   * here, once open() resolved, when its timeline starts: the recording then starts at that
   * UTC and monotonic time instead of "now", and stops at its last event's time. Undefined for
   * sources whose events are dated at receipt.
   */
  ownStart?(): { utcNs: bigint; monoNs: bigint } | undefined;
  /** Stop reading and release the socket/file. Idempotent. Queued events are discarded. */
  close(): void;
}
