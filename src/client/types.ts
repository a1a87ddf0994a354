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

export interface ClusterNodeStatus {
  id: string;
  up: boolean;
  segments: number;
  bytes: number;
}

export interface ClusterStatus {
  k: number;
  underReplicatedSegments: number;
  repairing: boolean;
  nodes: ClusterNodeStatus[];
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

/** A recorded event as the client library yields it. */
export interface RecordedEvent {
  channel: string;
  recordingId: number;
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  payload: Buffer;
  /** EventFlags bits; absent when none is set */
  flags?: number;
}

/** Bits of RecordedEvent.flags (the archive's frame flags). */
export const EventFlags = {
  /** The recorded input ended without a separator after this event: a copy of it writes none. */
  UNTERMINATED: 1,
} as const;

export interface ListRecordingsFilter {
  channel?: string;
  states?: RecordingStateName[];
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
  fromRecordingId?: number;
  maxCount?: number;
}
