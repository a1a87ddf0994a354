/** Plain data shapes the storage engine hands to its callers. */
export type DescriptorStateName = 'valid' | 'invalid' | 'deleted';
export type LifecycleName = 'recording' | 'stopped' | 'failed';

/** A recording as the catalog (or, while live, its metadata file) describes it. */
export interface RecordingDescriptor {
  recordingId: number;
  state: DescriptorStateName;
  lifecycle: LifecycleName;
  /** VcrError code that stopped the recording, 0 if none. */
  failureCode: number;
  startPosition: number;
  stopPosition: number;
  startUtcNs: bigint;
  stopUtcNs: bigint;
  startMonoNs: bigint;
  stopMonoNs: bigint;
  eventCount: number;
  segmentLength: number;
  cleanStop: boolean;
  channel: string;
  aliases: string[];
  source: string;
}

/**
 * Called once per event; `buffer` is only valid during the call (flyweight, no copy).
 * `flags` holds the frame's FrameFlags bits (layout.ts `FrameFlags`); handlers that do not
 * care simply declare fewer parameters.
 */
export type FrameHandler = (
  buffer: Buffer,
  payloadOffset: number,
  payloadLength: number,
  position: number,
  utcNs: bigint,
  monoNs: bigint,
  /** FrameFlags bits (layout.ts) */
  flags: number,
) => void;

export type MergedFrameHandler = (
  recordingId: number,
  buffer: Buffer,
  payloadOffset: number,
  payloadLength: number,
  position: number,
  utcNs: bigint,
  monoNs: bigint,
  flags: number,
) => void;

/** Wall-clock milliseconds, injected so tests can step time. */
export interface StorageClock {
  epochMs(): number;
}

export const systemClock: StorageClock = { epochMs: () => Date.now() };

export interface QuarantineHold {
  id: number;
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
}

/** A hold as a deletion sees it: the interval (and channel, absent = all) it protects. */
export interface HoldInterval {
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
}

export interface DeletionRecord {
  id: number;
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** -1 while the deletion is being applied (re-applied on open after a crash). */
  framesDeleted: number;
  bytesReclaimed: number;
  /** The id was given by the caller (a cluster-wide deletion), not taken from the local sequence. */
  external?: boolean;
  /** The holds the deletion was decided with; absent: the local quarantines at the time it runs. */
  holds?: HoldInterval[];
  /**
   * The recordings the deletion covers, resolved when it was decided (the cluster's commit, or
   * the local request); it touches no other. Absent (a deletion recorded before format 4):
   * every recording its channel names when it runs.
   */
  recordings?: number[];
}

/** What the writer reports when a segment is complete (rolled past, or the recording stopped). */
export interface SealedSegment {
  recordingId: number;
  base: number;
  /** Position after the segment's last frame (padding excluded). */
  end: number;
  /** DATA frames written in the segment. */
  frames: number;
  /** SHA-256 (hex) of the segment's frame records and end (docs/FORMAT.md, "Segment digest"). */
  digest: string;
  firstUtcNs: bigint;
  lastUtcNs: bigint;
}
