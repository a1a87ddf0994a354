/** Public API of the storage engine. */
export { Archive, type ArchiveOptions, type DeleteRequest, type NewRecording, type RecordingFilter, type SegmentDamage, type SegmentListing, type RawFrames, type SegmentSummary, type LiveWriter } from './archive.js';
export { RecordingWriter } from './recording-writer.js';
export { ReplicaWriter } from './replica-writer.js';
export { RecordingReader, FrameCursor } from './recording-reader.js';
export { MergedReader } from './merged-reader.js';
export type { SegmentSource, SegmentView, UnavailableState } from './segment-cache.js';
export type { SegmentState } from './segment-files.js';
export { CatalogIds, LocalHolds, type DeletionLedger, type QuarantineStore, type RecordingIdAllocator } from './stores.js';
export { FrameFlags } from './layout.js';
export { verifyArchive, type VerifyProblem, type VerifyReport, type VerifyProgress } from './verify.js';
export { dumpFrames, openDescriptors, type DumpedFrame } from './dump.js';
export * from './types.js';
