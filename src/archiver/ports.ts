/**
 * The narrow views of storage and sources that the archiver logic consumes. The archiver is
 * written against these (ports), and `storage-binding.ts` / `source-binding.ts` map the real
 * `src/storage` and `src/sources` onto them. Keeping the surface small means the conductor,
 * sessions and handlers do not change when the storage or source APIs grow, and every
 * assumption the archiver makes about them is written down in one place.
 */

export type RecordingStateName = 'recording' | 'stopped' | 'failed' | 'invalid' | 'deleted';

/** A recording's descriptor as the archiver reports it (list, describe, channels). */
export interface RecordingInfo {
  recordingId: number;
  state: RecordingStateName;
  startPosition: number;
  stopPosition: number;
  startUtcNs: bigint;
  stopUtcNs: bigint;
  startMonoNs: bigint;
  stopMonoNs: bigint;
  eventCount: number;
  segmentLength: number;
  channel: string;
  aliases: string[];
  source: string;
}

/** One recorded event frame: the payload is buffer[payloadOffset, payloadOffset+payloadLength). */
export type FrameHandler = (
  buffer: Buffer,
  payloadOffset: number,
  payloadLength: number,
  position: number,
  utcNs: bigint,
  monoNs: bigint,
  /**
   * frame flags (bit 0 UNTERMINATED: the input ended without a separator after this event;
   * bits 1/2: a source address follows the payload, read it with frameSource() of
   * src/util/source-address.ts)
   */
  flags: number,
) => void;

export interface RecordingReaderPort {
  /** Delivers up to maxFrames frames in position order; returns how many it delivered. */
  poll(handler: FrameHandler, maxFrames: number): number;
  /** Position of the next frame this reader will deliver. */
  readonly position: number;
  /**
   * True once the reader has delivered everything it will (its end, or the end of a stopped
   * recording). A reader that delivers nothing and is not done is waiting: for a live
   * recording to grow, or (cluster) for bytes still being fetched from another node.
   */
  isDone(): boolean;
  close(): void;
}

export interface RecordingWriterPort {
  readonly recordingId: number;
  /**
   * Appends one event (flags: frame flags, see FrameHandler; with a source flag the encoded
   * source address is source[sourceOffset..], src/util/source-address.ts); returns the position
   * of its frame. Throws VcrError on storage failure.
   */
  append(buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags?: number, source?: Uint8Array, sourceOffset?: number): number;
  /** Publishes appended frames to the metadata (stop position, counts, last times). */
  commit(): void;
  /** Ends the recording at utcNs (its state becomes stopped). Idempotent. */
  stop(utcNs: bigint): void;
  /** Position just after the last appended frame. */
  readonly position: number;
  readonly eventCount: number;
}

export interface QuarantineInfo {
  quarantineId: number;
  channel: string; // empty: all channels
  fromUtcNs: bigint;
  toUtcNs: bigint;
}

export interface ClusterStatusInfo {
  k: number;
  underReplicatedSegments: number;
  repairing: boolean;
  bytesToRepair: number;
  nodes: { id: string; up: boolean; ready: boolean; segments: number; bytes: number; lagBytes: number; lagMs: number }[];
  /** this node's scrubber since start: copies re-checked, bytes walked, bad copies found */
  scrub?: { segments: number; bytes: number; failures: number };
}

/** A recording's time index: (utcNs, position) samples in order, one per stride of bytes. */
export interface TimeIndexView {
  readonly length: number;
  utcAt(i: number): bigint;
  positionAt(i: number): number;
}

export interface ArchiveStore {
  createRecording(p: {
    channel: string;
    aliases: string[];
    source: string;
    startUtcNs: bigint;
    startMonoNs: bigint;
  }): RecordingWriterPort | Promise<RecordingWriterPort>;
  listRecordings(): RecordingInfo[];
  describe(recordingId: number): RecordingInfo | undefined;
  /**
   * A reader from position (a frame boundary; throws INVALID_POSITION otherwise). Without
   * follow it ends at the recording's end as of now; with follow it keeps reading a live one.
   */
  openReader(recordingId: number, position: number, follow: boolean): RecordingReaderPort;
  /** Position of the first event at or after utcNs (stop position when none); later when the bytes are elsewhere (cluster). */
  findPosition(recordingId: number, utcNs: bigint): number | Promise<number>;
  /** A store that keeps holds and deletions elsewhere (a cluster, in etcd) answers them later. */
  addQuarantine(channel: string, fromUtcNs: bigint, toUtcNs: bigint): number | Promise<number>;
  removeQuarantine(quarantineId: number): void | Promise<void>;
  listQuarantines(): QuarantineInfo[];
  /** Deletes unquarantined events; returns the count deleted. */
  deleteEvents(channel: string, fromUtcNs: bigint, toUtcNs: bigint): number | Promise<number>;
  /**
   * A read barrier the archiver waits for before it reads the catalog or recorded bytes
   * (cluster mode: everything etcd committed before is in this node's view). Absent: none.
   */
  prepare?(): Promise<void>;
  /** The cluster's health as this node sees it (cluster mode only). */
  clusterStatus?(): ClusterStatusInfo;
  /** Resolves once a stopped recording's end is visible cluster-wide (or after a short bound). */
  whenStopped?(recordingId: number): Promise<void>;
  usage(): { segments: number; bytes: number };
  /** The recording's time index (rates over time without a scan); absent or undefined: only its ends are known. */
  timeIndex?(recordingId: number): TimeIndexView | undefined;
  /** Periodic housekeeping (liveness mark, commits of idle writers); cheap, call every ~100 ms. */
  heartbeat(): void;
  close(): void;
}

/**
 * flags: bit 0 UNTERMINATED (the source's input ended without a separator after this event),
 * bit 1 / bit 2 SOURCE_IPV4 / SOURCE_IPV6: the datagram's encoded source address is
 * source[sourceOffset..] (src/util/source-address.ts), valid during the call only.
 */
export type SourceEventHandler = (buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags: number, source?: Uint8Array, sourceOffset?: number) => void;

export interface SourceCountersView {
  events: number;
  bytes: number;
  kernelDrops: number;
  oversize: number;
  /** Events the source dropped because its queue was full (the archiver fell behind). */
  queueDrops: number;
  malformed: number;
}

export interface EventSourcePort {
  /** Begins receiving (bind, open). Rejects with VcrError(INVALID_SOURCE | SOURCE_FAILED). */
  open(): Promise<void>;
  /** Delivers up to limit buffered events; returns how many. Never blocks. */
  poll(handler: SourceEventHandler, limit: number): number;
  /** True when a finite source has delivered everything (file without follow, stdin at EOF). */
  isEnded(): boolean;
  /**
   * The recording stops: delivers every event the source still holds, including a last record
   * that has no separator yet (a followed file), flagged UNTERMINATED; returns how many.
   */
  flush(handler: SourceEventHandler): number;
  /** A failure after open (read error), if any. */
  failure(): Error | undefined;
  /**
   * The URI the source really reads from, once open() resolved: a UDP source given port 0
   * reports the port it bound (`udp://127.0.0.1:0` -> `udp://127.0.0.1:41234`). Recordings
   * keep this URI in their descriptor, so `query list` shows where the events came from.
   */
  boundUri(): string;
  /**
   * A source that dates its events itself (a packet capture) gives, once open, the start of
   * its timeline: the recording starts there (not at "now") and stops at its last event.
   */
  ownStart?(): { utcNs: bigint; monoNs: bigint } | undefined;
  counters(): SourceCountersView;
  close(): void;
}

/** Creates sources from URIs; validates the URI synchronously (throws VcrError INVALID_SOURCE). */
export interface SourceFactory {
  create(uri: string, opts: { maxEventSize: number }): EventSourcePort;
}
