/** Public API of the storage engine. */
export { Archive, type ArchiveOptions, type NewRecording, type RecordingFilter } from './archive.js';
export { RecordingWriter } from './recording-writer.js';
export { RecordingReader } from './recording-reader.js';
export { MergedReader } from './merged-reader.js';
export { verifyArchive, type VerifyProblem, type VerifyReport, type VerifyProgress } from './verify.js';
export { dumpFrames, openDescriptors, type DumpedFrame } from './dump.js';
export * from './types.js';
