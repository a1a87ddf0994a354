/**
 * Plain data types the client library hands to its callers. Ids and positions are `number`
 * (they stay below 2^53, PROTOCOL.md "Numbers"); times are `bigint` nanoseconds.
 */

export type RecordingStateName = 'recording' | 'stopped' | 'failed' | 'invalid' | 'deleted' | 'unknown';

export interface RecordingDescriptor {
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
  aliases: string[];
  channel: string;
  source: string;
}

export interface ChannelDescriptor {
  channel: string;
  source: string;
  aliases: string[];
  activeRecordingId: number | null;
  recordingCount: number;
}

export interface StatsSnapshot {
  utcNs: bigint;
  counters: Map<string, number>;
}

export interface QuarantineDescriptor {
  quarantineId: number;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** empty: all channels */
  channel: string;
}

/** One interval of one channel in a retention pass (closed interval, like every interval here). */
export interface RetentionEntry {
  runId: number;
  channel: string;
  /** delete: the events go (or would, in a dry run); held: a hold keeps them */
  kind: 'delete' | 'held';
  /** the limit that set the channel's cut */
  limit: 'maxAge' | 'maxBytes';
  /** the channel's events before this are expired */
  cutUtcNs: bigint;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  events: number;
  /** payload bytes */
  bytes: number;
  /** held: the quarantine that keeps them */
  holdId: number | null;
}

/** A retention pass: its entries and the events (payload bytes) that went or would go. */
export interface RetentionReport {
  runId: number;
  events: number;
  bytes: number;
  entries: RetentionEntry[];
}

export interface ClusterNodeStatus {
  id: string;
  up: boolean;
  /** joined and serving (its rejoin finished) */
  ready: boolean;
  segments: number;
  bytes: number;
  /** how far this node's mirror copies lag behind the answering node's recordings */
  lagBytes: number;
  lagMs: number;
}

export interface ClusterStatus {
  k: number;
  underReplicatedSegments: number;
  repairing: boolean;
  /** bytes still to copy until every sealed segment has K verified copies */
  bytesToRepair: number;
  nodes: ClusterNodeStatus[];
}

/** A channel's bytes and (estimated) events per time bucket, from the time index (EventRates). */
export interface ChannelRates {
  channel: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  bytes: number[];
  events: number[];
}

/** What a delete would remove, and which holds protect what (DeletePreview). */
export interface DeletePreview {
  events: number;
  bytes: number;
  /** false: events were estimated from the time index (too many bytes to count) */
  exact: boolean;
  protectedBytes: number;
  recordings: { recordingId: number; channel: string; events: number; bytes: number }[];
  holds: { quarantineId: number; channel: string; fromUtcNs: bigint; toUtcNs: bigint; protectedBytes: number }[];
}

/** One event (or fragment of one) as it travels in a ReadChunk. */
export interface ChunkEvent {
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  eventLength: number;
  fragmentOffset: number;
  /** frame flags: EventFlags bits (0 when absent) */
  flags?: number;
  payload: Buffer;
}

export interface ReadChunk {
  recordingId: number;
  nextPosition: number;
  nextFragmentOffset: number;
  endOfRecording: boolean;
  events: ChunkEvent[];
}

/** Where a streamed replay is fetched (docs/PROTOCOL.md "Streamed replay"). */
export interface StreamGrant {
  replaySessionId: number;
  /** one-time: presented once, from the address of the control session */
  token: bigint;
  /** HOST:PORT of the archiver's stream endpoint (a wildcard host: use the control host) */
  endpoint: string;
}

/**
 * A recorded event as the client library yields it. From a streamed read, `payload` is a view
 * into the memory the stream was received in (no copy): it stays valid, and keeps up to 1 MiB
 * of receive buffer alive while it is referenced, so copy (Buffer.from) small payloads that
 * are kept for long.
 */
export interface RecordedEvent {
  channel: string;
  recordingId: number;
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  payload: Buffer;
  /** EventFlags bits; absent when none is set */
  flags?: number;
  /**
   * Where the event came from: the datagram's source address and port, for events recorded
   * from UDP (or imported from a capture) by an archive of format 3 or later; absent otherwise.
   */
  source?: { address: string; port: number };
}

/** Bits of RecordedEvent.flags (the archive's frame flags). */
export const EventFlags = {
  /** The recorded input ended without a separator after this event: a copy of it writes none. */
  UNTERMINATED: 1,
  /** The event has an IPv4 `source`. */
  SOURCE_IPV4: 2,
  /** The event has an IPv6 `source`. */
  SOURCE_IPV6: 4,
} as const;

export interface ListRecordingsFilter {
  channel?: string;
  states?: RecordingStateName[];
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
  fromRecordingId?: number;
  maxCount?: number;
}

/** One tier of `vcr archive status`: hot (the archive directory) or archived (the archive location). */
export interface ArchiveTierInfo {
  tier: string;
  segments: number;
  bytes: number;
  oldestUtcNs: bigint | null;
  newestUtcNs: bigint | null;
}

/** The archive tier's status: tiers, and the current or last archive pass. */
export interface ArchiveStatus {
  configured: boolean;
  location: string;
  passId: number;
  running: boolean;
  dryRun: boolean;
  segmentsTotal: number;
  segmentsArchived: number;
  segmentsFailed: number;
  bytesIn: number;
  bytesOut: number;
  blocks: number;
  tiers: ArchiveTierInfo[];
  /** A dry run's segments (at most 500). */
  candidates: { recordingId: number; base: number; bytes: number; channel: string }[];
  lastError: string;
}
