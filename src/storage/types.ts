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

/** Called once per event; `buffer` is only valid during the call (flyweight, no copy). */
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

export interface DeletionRecord {
  id: number;
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** -1 while the deletion is being applied (re-applied on open after a crash). */
  framesDeleted: number;
  bytesReclaimed: number;
}
