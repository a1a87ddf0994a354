/** Options of `Archive.open` and the shapes of the requests Archive takes. */
import type { Catalog } from './catalog.js';
import type { DeletionLedger, QuarantineStore, RecordingIdAllocator } from './stores.js';
import type { HoldInterval, RecordingDescriptor, SealedSegment, StorageClock } from './types.js';

export interface ArchiveOptions {
  /** Segment length for new recordings: a power of two, 64 KiB..1 GiB (default 64 MiB). */
  segmentLength?: number;
  /** 0 page cache only, 1 msync data every syncIntervalMs, 2 msync data and metadata at every commit. */
  fileSyncLevel?: 0 | 1 | 2;
  syncIntervalMs?: number;
  clock?: StorageClock;
  /** Open without locking or repairing (inspection while an archiver runs, or of a stopped one). */
  readOnly?: boolean;
  /** Bytes of positions per time index entry (default 4096). */
  indexStride?: number;
  /** A mark whose heartbeat is older than this is stale even if its pid exists (default 10 s). */
  markStaleMs?: number;
  /** Hears each segment a writer completes (rolled past, or the recording stopped); must not throw. */
  onSegmentSealed?: (s: SealedSegment) => void;
  /** Where new recording ids come from (default: the catalog's dense local sequence). */
  recordingIds?: (catalog: Catalog) => RecordingIdAllocator;
  /** Where quarantine holds live (default: holds.dat). */
  quarantines?: QuarantineStore;
  /** Where deletions are recorded (default: holds.dat). */
  deletions?: DeletionLedger;
  /**
   * Deletions leave the segment a writer is writing untouched (it is rewritten once sealed, by
   * applying the deletion again). A cluster needs this: its open segments are being mirrored
   * frame by frame, and readers filter deleted events meanwhile (docs/REPLICATION.md §8).
   */
  deleteSealedSegmentsOnly?: boolean;
}

export interface NewRecording {
  channel: string;
  aliases?: string[];
  source: string;
  startUtcNs: bigint;
  startMonoNs: bigint;
  /** An id given by the caller (cluster-allocated); refused if a recording or files have it. */
  recordingId?: number;
}

export interface RecordingFilter {
  channel?: string;
  lifecycle?: RecordingDescriptor['lifecycle'];
  /** Recordings overlapping [fromUtcNs, toUtcNs). */
  fromUtcNs?: bigint;
  toUtcNs?: bigint;
}

export interface DeleteRequest {
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** The holds to respect (decided elsewhere); default: the quarantines held now. */
  holds?: HoldInterval[];
  /** An id given by the caller: a deletion with this id already applied here is not applied again. */
  deletionId?: number;
  /**
   * The recordings the deletion covers (decided elsewhere: a cluster names them at commit);
   * default: the recordings `channel` (or every channel) names now. Recorded with the
   * deletion, so applying it later (after a crash, to a copy installed later) touches these only.
   */
  recordings?: number[];
}

/** The options with their defaults applied (what the archive and its writers use). */
export type ResolvedOptions = Required<Omit<ArchiveOptions, 'readOnly' | 'onSegmentSealed' | 'recordingIds' | 'quarantines' | 'deletions' | 'deleteSealedSegmentsOnly'>> & {
  onSegmentSealed: ArchiveOptions['onSegmentSealed'];
};
