/**
 * Byte layouts of the archive tier (docs/FORMAT.md, "Archive tier"), through the codecs
 * generated from codecs/archive-tier.xml: the archived copy of a segment (`<id>-<base>.vcs` in
 * an archive location: header, block index, blocks) and the reference that replaces the `.rec`
 * in the archive directory (`<id>-<base>.arc`). Both carry a CRC32C so that a torn or damaged
 * file is told apart from a good one; every decode checks magic, template, schema and version
 * and throws CORRUPT_SEGMENT naming the file.
 */
import {
  ArchivedSegmentHeaderDecoder,
  ArchivedSegmentHeaderEncoder,
  ArchivedSegmentRefDecoder,
  ArchivedSegmentRefEncoder,
  BlockIndexEntryDecoder,
  BlockIndexEntryEncoder,
  Compression,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
} from '../../../codecs/generated/archive-tier/index.js';
import { crc32c } from '../../util/crc32c.js';
import { ErrorCode, VcrError } from '../../util/errors.js';

export { Compression };

/** Version of the archived segment file layout (ArchivedSegmentHeader.layoutVersion). */
export const TIER_LAYOUT_VERSION = 1;
export const TIER_MAGIC = 'VCRARSEG';
export const HEADER_LENGTH = 128;
export const INDEX_ENTRY_LENGTH = BlockIndexEntryEncoder.ENCODED_LENGTH;
const MSG = MessageHeaderEncoder.ENCODED_LENGTH;
const HEADER_CHECKSUM_OFFSET = MSG + ArchivedSegmentHeaderEncoder.checksumEncodingOffset();
const REF_CHECKSUM_OFFSET = MSG + ArchivedSegmentRefEncoder.checksumEncodingOffset();

export function archivedFileName(recordingId: number, base: number): string {
  return `${recordingId}-${base}.vcs`;
}
export function refFileName(recordingId: number, base: number): string {
  return `${recordingId}-${base}.arc`;
}
export const ARCHIVED_FILE_PATTERN = /^(\d+)-(\d+)\.vcs$/;
export const REF_FILE_PATTERN = /^(\d+)-(\d+)\.arc$/;

export type CompressionName = 'none' | 'deflate' | 'gzip' | 'brotli';
export const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'deflate', 'gzip', 'brotli'];
export function compressionOf(name: CompressionName): Compression {
  return { none: Compression.NONE, deflate: Compression.DEFLATE, gzip: Compression.GZIP, brotli: Compression.BROTLI }[name];
}
export function compressionName(c: Compression): CompressionName {
  const n = COMPRESSION_NAMES[c];
  if (n === undefined) throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `unknown compression ${c}`);
  return n;
}

export interface BlockEntry {
  fileOffset: number;
  segmentOffset: number;
  length: number;
  compressedLength: number;
  crc32c: number;
}

export interface ArchivedHeader {
  recordingId: number;
  base: number;
  segmentLength: number;
  dataLength: number;
  compression: Compression;
  blockSize: number;
  digest: string;
  blocks: BlockEntry[];
}

/** Header and block index (the bytes at the start of an archived file), checksummed. */
export function encodeArchivedHeader(h: ArchivedHeader): Buffer {
  const buf = Buffer.alloc(HEADER_LENGTH + h.blocks.length * INDEX_ENTRY_LENGTH);
  new ArchivedSegmentHeaderEncoder()
    .wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder())
    .layoutVersion(TIER_LAYOUT_VERSION)
    .magic(TIER_MAGIC)
    .recordingId(h.recordingId)
    .basePosition(h.base)
    .segmentLength(h.segmentLength)
    .dataLength(h.dataLength)
    .blockCount(h.blocks.length)
    .indexOffset(HEADER_LENGTH)
    .compression(h.compression)
    .blockSize(h.blockSize)
    .digest(h.digest);
  const e = new BlockIndexEntryEncoder();
  h.blocks.forEach((b, i) => {
    e.wrap(buf, HEADER_LENGTH + i * INDEX_ENTRY_LENGTH)
      .fileOffset(b.fileOffset)
      .segmentOffset(b.segmentOffset)
      .length(b.length)
      .compressedLength(b.compressedLength)
      .crc32c(b.crc32c);
  });
  buf.writeUInt32LE(crc32c(buf, 0, buf.length), HEADER_CHECKSUM_OFFSET);
  return buf;
}

function corrupt(file: string, why: string): VcrError {
  return new VcrError(ErrorCode.CORRUPT_SEGMENT, `${file}: ${why}`);
}

/** Reads the fixed header (first HEADER_LENGTH bytes): what decodeArchivedHeader needs to know how much index follows. */
export function archivedIndexLength(first: Buffer, file: string): number {
  if (first.length < HEADER_LENGTH) throw corrupt(file, `too short for an archived segment header (${first.length} bytes)`);
  const mh = new MessageHeaderDecoder().wrap(first, 0);
  if (mh.templateId() !== ArchivedSegmentHeaderDecoder.TEMPLATE_ID || mh.schemaId() !== ArchivedSegmentHeaderDecoder.SCHEMA_ID) {
    throw corrupt(file, 'not an archived segment (wrong template or schema)');
  }
  const d = new ArchivedSegmentHeaderDecoder().wrapAndApplyHeader(first, 0, new MessageHeaderDecoder());
  if (d.magic() !== TIER_MAGIC) throw corrupt(file, 'bad magic');
  if (d.layoutVersion() < 1 || d.layoutVersion() > TIER_LAYOUT_VERSION) {
    throw new VcrError(ErrorCode.UNSUPPORTED_FORMAT_VERSION, `${file}: archived segment layout version ${d.layoutVersion()} is not supported (this VCR reads version 1 to ${TIER_LAYOUT_VERSION})`);
  }
  const n = d.blockCount();
  if (n < 0 || n > 1 << 20 || d.indexOffset() !== HEADER_LENGTH) throw corrupt(file, 'bad block count or index offset');
  return n * INDEX_ENTRY_LENGTH;
}

/** Decodes header and block index (`buf` = the first HEADER_LENGTH + index bytes) and checks their CRC and consistency. */
export function decodeArchivedHeader(buf: Buffer, file: string, fileSize: number): ArchivedHeader {
  const indexLength = archivedIndexLength(buf, file);
  if (buf.length < HEADER_LENGTH + indexLength) throw corrupt(file, 'block index is cut short');
  const whole = Buffer.from(buf.subarray(0, HEADER_LENGTH + indexLength));
  const stored = whole.readUInt32LE(HEADER_CHECKSUM_OFFSET);
  whole.writeUInt32LE(0, HEADER_CHECKSUM_OFFSET);
  if (crc32c(whole, 0, whole.length) !== stored) throw corrupt(file, 'header or block index checksum does not match');
  const d = new ArchivedSegmentHeaderDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  const h: ArchivedHeader = {
    recordingId: d.recordingId(),
    base: d.basePosition(),
    segmentLength: d.segmentLength(),
    dataLength: d.dataLength(),
    compression: d.compression(),
    blockSize: d.blockSize(),
    digest: d.digest(),
    blocks: [],
  };
  compressionName(h.compression);
  if (h.dataLength < 0 || h.dataLength > h.segmentLength) throw corrupt(file, `data length ${h.dataLength} outside the segment`);
  const e = new BlockIndexEntryDecoder();
  let expectOffset = 0;
  let expectFile = HEADER_LENGTH + indexLength;
  for (let i = 0; i < indexLength / INDEX_ENTRY_LENGTH; i++) {
    e.wrap(buf, HEADER_LENGTH + i * INDEX_ENTRY_LENGTH);
    const b: BlockEntry = { fileOffset: e.fileOffset(), segmentOffset: e.segmentOffset(), length: e.length(), compressedLength: e.compressedLength(), crc32c: e.crc32c() };
    // the first block may start after room reserved for a longer index; the others follow one another
    const placed = i === 0 ? b.fileOffset >= expectFile : b.fileOffset === expectFile;
    if (b.segmentOffset !== expectOffset || b.length <= 0 || !placed || b.compressedLength < 0 || b.fileOffset + b.compressedLength > fileSize) {
      throw corrupt(file, `block ${i} of the index is not consistent`);
    }
    expectOffset += b.length;
    expectFile = b.fileOffset + b.compressedLength;
    h.blocks.push(b);
  }
  if (expectOffset !== h.dataLength) throw corrupt(file, `blocks hold ${expectOffset} bytes, header says ${h.dataLength}`);
  return h;
}

/** What the `.arc` reference says: where the archived copy is and what it holds. */
export interface ArchivedRef {
  recordingId: number;
  base: number;
  layoutVersion: number;
  fileBytes: number;
  archivedAtMs: number;
  firstUtcNs: bigint;
  lastUtcNs: bigint;
  frames: number;
  end: number;
  compression: Compression;
  dataLength: number;
  digest: string;
  locationId: string;
  path: string;
}

export function encodeRef(r: ArchivedRef): Buffer {
  const buf = Buffer.alloc(MSG + ArchivedSegmentRefEncoder.BLOCK_LENGTH + 4 + Buffer.byteLength(r.locationId) + Buffer.byteLength(r.path));
  new ArchivedSegmentRefEncoder()
    .wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder())
    .layoutVersion(r.layoutVersion)
    .recordingId(r.recordingId)
    .basePosition(r.base)
    .fileBytes(r.fileBytes)
    .archivedAtMs(r.archivedAtMs)
    .firstUtcNs(r.firstUtcNs)
    .lastUtcNs(r.lastUtcNs)
    .frames(r.frames)
    .end(r.end)
    .compression(r.compression)
    .dataLength(r.dataLength)
    .digest(r.digest)
    .locationId(r.locationId)
    .path(r.path);
  buf.writeUInt32LE(crc32c(buf, 0, buf.length), REF_CHECKSUM_OFFSET);
  return buf;
}

export function decodeRef(buf: Buffer, file: string): ArchivedRef {
  if (buf.length < MSG + ArchivedSegmentRefDecoder.BLOCK_LENGTH + 4) throw corrupt(file, `too short for an archived segment reference (${buf.length} bytes)`);
  const mh = new MessageHeaderDecoder().wrap(buf, 0);
  if (mh.templateId() !== ArchivedSegmentRefDecoder.TEMPLATE_ID || mh.schemaId() !== ArchivedSegmentRefDecoder.SCHEMA_ID) {
    throw corrupt(file, 'not an archived segment reference (wrong template or schema)');
  }
  const copy = Buffer.from(buf);
  const stored = copy.readUInt32LE(REF_CHECKSUM_OFFSET);
  copy.writeUInt32LE(0, REF_CHECKSUM_OFFSET);
  if (crc32c(copy, 0, copy.length) !== stored) throw corrupt(file, 'checksum does not match');
  const d = new ArchivedSegmentRefDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  return {
    layoutVersion: d.layoutVersion(),
    recordingId: d.recordingId(),
    base: d.basePosition(),
    fileBytes: d.fileBytes(),
    archivedAtMs: d.archivedAtMs(),
    firstUtcNs: d.firstUtcNs(),
    lastUtcNs: d.lastUtcNs(),
    frames: d.frames(),
    end: d.end(),
    compression: d.compression(),
    dataLength: d.dataLength(),
    digest: d.digest(),
    locationId: d.locationId(),
    path: d.path(),
  };
}
