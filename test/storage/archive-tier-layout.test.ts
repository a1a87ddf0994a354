/**
 * The archive tier's on-disk layout (docs/FORMAT.md, "Archive tier"), pinned byte for byte:
 * the archived segment file's header and block index, and the `.arc` reference. A change here
 * is a format change: bump TIER_LAYOUT_VERSION and keep reading version 1.
 */
import { describe, expect, it } from 'vitest';
import {
  Compression,
  HEADER_LENGTH,
  decodeArchivedHeader,
  decodeRef,
  encodeArchivedHeader,
  encodeRef,
  type ArchivedHeader,
  type ArchivedRef,
} from '../../src/storage/archive-tier/tier-layout.js';
import { ErrorCode } from '../../src/util/errors.js';

const HEADER: ArchivedHeader = {
  recordingId: 7,
  base: 65536,
  segmentLength: 65536,
  dataLength: 5000,
  compression: Compression.DEFLATE,
  blockSize: 4096,
  digest: 'ab'.repeat(32),
  blocks: [
    { fileOffset: 512, segmentOffset: 0, length: 4096, compressedLength: 300, crc32c: 0x11223344 },
    { fileOffset: 812, segmentOffset: 4096, length: 904, compressedLength: 100, crc32c: 0x55667788 },
  ],
};
const REF: ArchivedRef = {
  recordingId: 7,
  base: 65536,
  layoutVersion: 1,
  fileBytes: 912,
  archivedAtMs: 1_700_000_000_000,
  firstUtcNs: 1n,
  lastUtcNs: 2n,
  frames: 3,
  end: 70000,
  compression: Compression.DEFLATE,
  dataLength: 5000,
  digest: 'cd'.repeat(32),
  locationId: 'cold',
  path: '/mnt/cold/local/7-65536.vcs',
};

describe('archive tier layout (version 1)', () => {
  it('archived segment header and block index: bytes pinned', () => {
    const b = encodeArchivedHeader(HEADER);
    expect(b.length).toBe(HEADER_LENGTH + 2 * 24);
    // message header: blockLength 120, template 1, schema 105, version 1
    expect(b.subarray(0, 8).toString('hex')).toBe('7800010069000100');
    expect(b.toString('latin1', 16, 24)).toBe('VCRARSEG');
    expect(b.readInt32LE(12)).toBe(1); // layoutVersion
    expect(b.readInt32LE(52)).toBe(128); // indexOffset
    expect(b.readBigInt64LE(128)).toBe(512n); // first block's file offset
    expect(b.toString('hex')).toBe('7800010069000100f0ec078b0100000056435241525345470700000000000000000001000000000000000100881300000200000080000000010000000010000061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162000200000000000000000000001000002c010000443322112c0300000000000000100000880300006400000088776655');
    expect(decodeArchivedHeader(b, 'x', 912)).toEqual(HEADER);
  });

  it('.arc reference: bytes pinned', () => {
    const b = encodeRef(REF);
    expect(b.subarray(0, 8).toString('hex')).toBe('9000020069000100');
    expect(b.toString('hex')).toBe('9000020069000100d4f54758010000000700000000000000000001000000000090030000000000000068e5cf8b01000001000000000000000200000000000000030000000000000070110100000000000100000088130000636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463640400636f6c641b002f6d6e742f636f6c642f6c6f63616c2f372d36353533362e766373');
    expect(decodeRef(b, 'x')).toEqual(REF);
  });

  it('damage and newer versions are refused with their codes', () => {
    const b = encodeArchivedHeader(HEADER);
    const flipped = Buffer.from(b);
    flipped[140]! ^= 1;
    expect(() => decodeArchivedHeader(flipped, 'x', 912)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    expect(() => decodeArchivedHeader(b.subarray(0, 100), 'x', 912)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    expect(() => decodeArchivedHeader(b, 'x', 800)).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT })); // blocks past the file's end
    const newer = Buffer.from(b);
    newer.writeInt32LE(2, 12);
    expect(() => decodeArchivedHeader(newer, 'x', 912)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_FORMAT_VERSION }));
    const r = encodeRef(REF);
    r[r.length - 1]! ^= 1;
    expect(() => decodeRef(r, 'x')).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
  });
});
