/**
 * Byte layouts of the archive files (codecs/storage.xml, drawn in docs/FORMAT.md) as
 * constants, and the file naming rules. The hot paths (append, read, scan) address frame
 * fields by these offsets directly instead of going through a flyweight.
 */
export const SCHEMA_ID = 102;
export const SCHEMA_VERSION = 1;
/** Version of the archive layout as a whole (catalog header formatVersion). */
export const FORMAT_VERSION = 1;
export const MESSAGE_HEADER_LENGTH = 8;

export const TemplateId = {
  CATALOG_HEADER: 1,
  RECORDING_DESCRIPTOR: 2,
  RECORDING_METADATA: 3,
  TIME_INDEX_HEADER: 4,
  HOLDS: 5,
  ARCHIVE_MARK: 6,
} as const;

// ---- event frames -------------------------------------------------------------------
export const FRAME_HEADER_LENGTH = 32;
export const FRAME_ALIGNMENT = 8;
export const FrameOffset = { LENGTH: 0, TYPE: 4, FLAGS: 6, UTC: 8, MONO: 16, CRC: 24, RESERVED: 28 } as const;
export const FrameType = { DATA: 1, PADDING: 2, DELETED: 3 } as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export function alignFrame(length: number): number {
  return (length + FRAME_ALIGNMENT - 1) & ~(FRAME_ALIGNMENT - 1);
}

// ---- segments -----------------------------------------------------------------------
export const DEFAULT_SEGMENT_LENGTH = 64 * 1024 * 1024;
export const MIN_SEGMENT_LENGTH = 64 * 1024;
export const MAX_SEGMENT_LENGTH = 1024 * 1024 * 1024;

export function isValidSegmentLength(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_SEGMENT_LENGTH && n <= MAX_SEGMENT_LENGTH && (n & (n - 1)) === 0;
}

// ---- catalog ------------------------------------------------------------------------
export const CATALOG_FILE = 'catalog.dat';
export const CATALOG_MAGIC = 'VCRCATLG';
export const CATALOG_HEADER_LENGTH = 4096;
export const DESCRIPTOR_LENGTH = 4096;
/** Offsets inside the catalog header record (file offset 0). */
export const CatalogHeaderOffset = {
  MAGIC: 8,
  FORMAT_VERSION: 16,
  HEADER_LENGTH: 20,
  DESCRIPTOR_LENGTH: 24,
  RESERVED: 28,
  NEXT_RECORDING_ID: 32,
} as const;
export const CATALOG_HEADER_BLOCK_LENGTH = 32;

/**
 * Offsets inside a descriptor slot / metadata file (both start with the 8-byte message
 * header; the block follows). RecordingDescriptor and RecordingMetadata share the layout.
 */
export const DescOffset = {
  CHECKSUM: 8,
  STATE: 12,
  LIFECYCLE: 13,
  FAILURE_CODE: 14,
  RECORDING_ID: 16,
  START_POSITION: 24,
  STOP_POSITION: 32,
  START_UTC: 40,
  STOP_UTC: 48,
  START_MONO: 56,
  STOP_MONO: 64,
  EVENT_COUNT: 72,
  SEGMENT_LENGTH: 80,
  CLEAN_STOP: 84,
  VAR_START: 88,
} as const;
export const DESCRIPTOR_BLOCK_LENGTH = 80;

export const DescriptorState = { INVALID: 0, VALID: 1, DELETED: 2 } as const;
export const Lifecycle = { RECORDING: 1, STOPPED: 2, FAILED: 3 } as const;

// ---- metadata, index, holds, mark -----------------------------------------------------
export const METADATA_LENGTH = 4096;
export const TIME_INDEX_HEADER_LENGTH = 64;
export const TIME_INDEX_ENTRY_LENGTH = 16;
export const TIME_INDEX_BLOCK_LENGTH = 24;
export const DEFAULT_INDEX_STRIDE = 4096;
export const HOLDS_FILE = 'holds.dat';
export const MARK_FILE = 'archive.mark';
export const MARK_LENGTH = 4096;
export const MARK_BLOCK_LENGTH = 24;

export function segmentFileName(recordingId: number, basePosition: number): string {
  return `${recordingId}-${basePosition}.rec`;
}
export function metadataFileName(recordingId: number): string {
  return `${recordingId}.meta`;
}
export function timeIndexFileName(recordingId: number): string {
  return `${recordingId}.tix`;
}
export const SEGMENT_FILE_PATTERN = /^(\d+)-(\d+)\.rec$/;

export function writeMessageHeader(buf: Buffer, offset: number, blockLength: number, templateId: number): void {
  buf.writeUInt16LE(blockLength, offset);
  buf.writeUInt16LE(templateId, offset + 2);
  buf.writeUInt16LE(SCHEMA_ID, offset + 4);
  buf.writeUInt16LE(SCHEMA_VERSION, offset + 6);
}

export interface MessageHeader {
  blockLength: number;
  templateId: number;
  schemaId: number;
  version: number;
}

export function readMessageHeader(buf: Buffer, offset: number): MessageHeader {
  return {
    blockLength: buf.readUInt16LE(offset),
    templateId: buf.readUInt16LE(offset + 2),
    schemaId: buf.readUInt16LE(offset + 4),
    version: buf.readUInt16LE(offset + 6),
  };
}
