/**
 * Byte layouts of the archive files, taken from the codecs generated from codecs/storage.xml
 * (drawn in docs/FORMAT.md), plus what the schema does not say: slot and file sizes,
 * alignment, segment limits and file names.
 *
 * The schema is the single source of truth: block lengths, template ids, schema id/version and
 * the few field offsets the engine needs by number (the checksum fields it must zero while
 * checksumming, the frame fields of the hot append and read paths, the catalog's
 * nextRecordingId that is rewritten alone) are the generated classes' statics. No offset is
 * kept by hand.
 */
import { SOURCE_IPV4, SOURCE_IPV4_LENGTH, SOURCE_IPV6, SOURCE_IPV6_LENGTH } from '../util/source-address.js';
import {
  ArchiveMarkEncoder,
  CatalogHeaderEncoder,
  DeletionLogEntryEncoder,
  DeletionLogHeaderEncoder,
  EventFrameHeaderEncoder,
  FrameFlagsDecoder,
  FrameFlagsEncoder,
  FrameSourceIpv4Encoder,
  FrameSourceIpv6Encoder,
  FrameType,
  HoldsEncoder,
  MessageHeaderEncoder,
  RecordingDescriptorEncoder,
  RecordingMetadataEncoder,
  TimeIndexEntryEncoder,
  TimeIndexHeaderEncoder,
} from '../../codecs/generated/storage/index.js';

export { FrameType };
export type FrameTypeValue = FrameType.DATA | FrameType.PADDING | FrameType.DELETED;

export const SCHEMA_ID = CatalogHeaderEncoder.SCHEMA_ID;
export const SCHEMA_VERSION = CatalogHeaderEncoder.SCHEMA_VERSION;
/**
 * Version of the archive layout as a whole (catalog header formatVersion); not a schema value.
 * 2 added frame flags, deletion logs and away markers; 3 the datagram's source address as an
 * optional DATA frame trailer; 4 the recordings each deletion in holds.dat covers (an older
 * engine would apply such a deletion by channel alone, so it must not open the archive).
 * Older archives are migrated at the first writable open (docs/FORMAT.md, "Versioning").
 */
export const FORMAT_VERSION = 4;
/** Oldest format version this engine opens. */
export const MIN_FORMAT_VERSION = 1;
export const MESSAGE_HEADER_LENGTH = MessageHeaderEncoder.ENCODED_LENGTH;

export const TemplateId = {
  CATALOG_HEADER: CatalogHeaderEncoder.TEMPLATE_ID,
  RECORDING_DESCRIPTOR: RecordingDescriptorEncoder.TEMPLATE_ID,
  RECORDING_METADATA: RecordingMetadataEncoder.TEMPLATE_ID,
  TIME_INDEX_HEADER: TimeIndexHeaderEncoder.TEMPLATE_ID,
  HOLDS: HoldsEncoder.TEMPLATE_ID,
  ARCHIVE_MARK: ArchiveMarkEncoder.TEMPLATE_ID,
  DELETION_LOG_HEADER: DeletionLogHeaderEncoder.TEMPLATE_ID,
} as const;

// ---- event frames -------------------------------------------------------------------
export const FRAME_HEADER_LENGTH = EventFrameHeaderEncoder.ENCODED_LENGTH;
export const FRAME_ALIGNMENT = 8;
const F = EventFrameHeaderEncoder;
/** Frame header fields, for the hot paths that store them with typed arrays. */
export const FrameOffset = {
  LENGTH: F.frameLengthEncodingOffset(),
  TYPE: F.frameTypeEncodingOffset(),
  FLAGS: F.flagsEncodingOffset(),
  UTC: F.utcNsEncodingOffset(),
  MONO: F.monoNsEncodingOffset(),
  CRC: F.crc32cEncodingOffset(),
  RESERVED: F.reservedEncodingOffset(),
} as const;
/** Bits of a frame's flags field: the FrameFlags set of the schema, as numbers. */
function flagBit(set: (e: FrameFlagsEncoder) => void): number {
  const scratch = Buffer.alloc(FrameFlagsEncoder.ENCODED_LENGTH);
  set(new FrameFlagsEncoder().wrap(scratch, 0));
  return new FrameFlagsDecoder().wrap(scratch, 0).raw();
}
export const FrameFlags = {
  /** The event was the last record of its file or stream and had no trailing separator. */
  UNTERMINATED: flagBit((e) => e.unterminated(true)),
  /** A FrameSourceIpv4 (the datagram's IPv4 source address and port) follows the payload. */
  SOURCE_IPV4: flagBit((e) => e.sourceIpv4(true)),
  /** A FrameSourceIpv6 follows the payload. */
  SOURCE_IPV6: flagBit((e) => e.sourceIpv6(true)),
} as const;
/** Every flag bit this version knows. */
export const KNOWN_FRAME_FLAGS = FrameFlags.UNTERMINATED | FrameFlags.SOURCE_IPV4 | FrameFlags.SOURCE_IPV6;
/*
 * The source trailer's flag bits and lengths are also numbers in src/util/source-address.ts (the
 * client and the sources use them without the storage codecs): they must be the schema's.
 */
if (
  FrameFlags.SOURCE_IPV4 !== SOURCE_IPV4 || FrameFlags.SOURCE_IPV6 !== SOURCE_IPV6 ||
  FrameSourceIpv4Encoder.ENCODED_LENGTH !== SOURCE_IPV4_LENGTH || FrameSourceIpv6Encoder.ENCODED_LENGTH !== SOURCE_IPV6_LENGTH
) {
  throw new Error('layout: the frame source trailer of codecs/storage.xml and src/util/source-address.ts disagree');
}

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
/** Offsets inside catalog.dat of the header fields written on their own. */
export const CatalogHeaderOffset = {
  NEXT_RECORDING_ID: MESSAGE_HEADER_LENGTH + CatalogHeaderEncoder.nextRecordingIdEncodingOffset(),
} as const;

/**
 * Offsets inside a descriptor slot / metadata file (both start with the message header; the
 * block follows, then the var part). RecordingDescriptor and RecordingMetadata share the layout.
 */
export const DescOffset = {
  CHECKSUM: MESSAGE_HEADER_LENGTH + RecordingDescriptorEncoder.checksumEncodingOffset(),
  VAR_START: MESSAGE_HEADER_LENGTH + RecordingDescriptorEncoder.BLOCK_LENGTH,
} as const;

// ---- metadata, index, holds, mark -----------------------------------------------------
export const METADATA_LENGTH = 4096;
/** Where the time index entries start in a .tix file (the header record is padded to it). */
export const TIME_INDEX_HEADER_LENGTH = 64;
export const TIME_INDEX_ENTRY_LENGTH = TimeIndexEntryEncoder.ENCODED_LENGTH;
export const DEFAULT_INDEX_STRIDE = 4096;
export const HOLDS_FILE = 'holds.dat';
export const HOLDS_CHECKSUM_OFFSET = MESSAGE_HEADER_LENGTH + HoldsEncoder.checksumEncodingOffset();
export const MARK_FILE = 'archive.mark';
export const MARK_LENGTH = 4096;

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
export function tombstoneFileName(recordingId: number, basePosition: number): string {
  return `${recordingId}-${basePosition}.del`;
}
export function awayFileName(recordingId: number, basePosition: number): string {
  return `${recordingId}-${basePosition}.away`;
}
export function deletionLogFileName(recordingId: number, basePosition: number): string {
  return `${recordingId}-${basePosition}.dlog`;
}
/** Any file of a recording: `<id>.meta|tix`, `<id>-<base>.rec|del|away|dlog|arc` (and their temp files). */
export const RECORDING_FILE_PATTERN = /^(\d+)(?:-(\d+))?\.(rec|del|away|dlog|arc|meta|tix)(\.[a-z]+)?$/;

// ---- deletion logs -------------------------------------------------------------------
export const DELETION_LOG_HEADER_LENGTH = MESSAGE_HEADER_LENGTH + DeletionLogHeaderEncoder.BLOCK_LENGTH;
export const DELETION_LOG_ENTRY_LENGTH = DeletionLogEntryEncoder.ENCODED_LENGTH;
