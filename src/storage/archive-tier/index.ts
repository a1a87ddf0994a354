/** The archive tier (docs/ARCHIVER.md and docs/FORMAT.md, "Archive tier"). */
export { ArchivePass, ArchivePassState, PAUSE_POINTS, type ArchivePassOptions, type ArchivePassResult, type ArchivedSegmentInfo, type Candidate, type PausePoint } from './archive-pass.js';
export { tierStatus, type TierUsage } from './tier-status.js';
export { sweepLocation, archivedProblem } from './settle.js';
export { setLocationDirectory, setThawLimit, thawedCount } from './thaw-cache.js';
export { COMPRESSION_NAMES, type CompressionName } from './tier-layout.js';
export { readRef } from './ref-file.js';
