/**
 * The storage engine writes and reads its records only through the codecs generated from
 * codecs/storage.xml. These tests pin that both directions agree byte for byte: what the
 * engine writes equals what the generated encoders write for the same values, and the engine
 * accepts records built by the generated encoders alone. Damaged records that still carry a
 * valid checksum are refused with the record's stable error code, never a RangeError.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import {
  BooleanType,
  DescriptorState,
  EventFrameHeaderDecoder,
  EventFrameHeaderEncoder,
  FrameType,
  HoldsEncoder,
  MessageHeaderEncoder,
  RecordingLifecycle,
  RecordingMetadataEncoder,
  TimeIndexEntryEncoder,
  TimeIndexHeaderEncoder,
} from '../../codecs/generated/storage/index.js';
import { Archive } from '../../src/storage/archive.js';
import { decodeDescriptor, descriptorChecksum, encodeDescriptor, LiveMetadataWriter } from '../../src/storage/descriptor-codec.js';
import { FrameStatus, checkFrame, writeHeaderOnlyFrame } from '../../src/storage/frame.js';
import { decodeHolds, encodeHolds, type HoldsData } from '../../src/storage/holds-file.js';
import {
  CatalogHeaderOffset,
  DELETION_LOG_ENTRY_LENGTH,
  DELETION_LOG_HEADER_LENGTH,
  DescOffset,
  FrameFlags,
  FRAME_HEADER_LENGTH,
  FrameOffset,
  HOLDS_CHECKSUM_OFFSET,
  MESSAGE_HEADER_LENGTH,
  TIME_INDEX_ENTRY_LENGTH,
  TIME_INDEX_HEADER_LENGTH,
  TemplateId,
} from '../../src/storage/layout.js';
import { FrameCursor } from '../../src/storage/recording-reader.js';
import { scanForward } from '../../src/storage/scan.js';
import type { SegmentSource } from '../../src/storage/segment-cache.js';
import { TimeIndex } from '../../src/storage/time-index.js';
import type { RecordingDescriptor } from '../../src/storage/types.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();

const SEG = 65536;

/** A frame written with the generated encoder only; CRC32C per docs/FORMAT.md (native). */
function generatedFrame(seg: Buffer, off: number, type: FrameType, payload: Buffer, utc: bigint, mono: bigint, length = FRAME_HEADER_LENGTH + payload.length): void {
  const e = new EventFrameHeaderEncoder().wrap(seg, off).frameLength(length).frameType(type).flags(0).utcNs(utc).monoNs(mono).crc32c(0).reserved(0);
  if (type === FrameType.DATA) payload.copy(seg, off + FRAME_HEADER_LENGTH);
  const covered = type === FrameType.DATA ? length : FRAME_HEADER_LENGTH;
  e.crc32c(nativeCrc32c(seg.subarray(off, off + covered)));
}

function source(seg: Buffer): SegmentSource {
  return {
    segmentLength: SEG,
    get: (base) => (base === 0 ? seg : 'missing'),
    unavailable: (base) => new VcrError(ErrorCode.SEGMENT_MISSING, `no segment ${base}`),
  };
}

const sample: RecordingDescriptor = {
  recordingId: 12,
  state: 'valid',
  lifecycle: 'recording',
  failureCode: 0,
  startPosition: 0,
  stopPosition: 8192,
  startUtcNs: 1_700_000_000_000_000_000n,
  stopUtcNs: 1_700_000_000_500_000_000n,
  startMonoNs: 5n,
  stopMonoNs: 6n,
  eventCount: 77,
  segmentLength: SEG,
  cleanStop: false,
  channel: 'sonar.pings',
  aliases: ['sonar', 'pings', 'écho'],
  source: 'file:///tmp/x?separator=%0A',
};

function generatedDescriptor(d: RecordingDescriptor, templateId: number): Buffer {
  const buf = Buffer.alloc(4096);
  const h = new MessageHeaderEncoder();
  const e = new RecordingMetadataEncoder().wrapAndApplyHeader(buf, 0, h);
  h.templateId(templateId);
  e.state(DescriptorState.VALID).lifecycle(d.lifecycle === 'recording' ? RecordingLifecycle.RECORDING : RecordingLifecycle.STOPPED).failureCode(d.failureCode);
  e.recordingId(d.recordingId).startPosition(d.startPosition).stopPosition(d.stopPosition);
  e.startUtcNs(d.startUtcNs).stopUtcNs(d.stopUtcNs).startMonoNs(d.startMonoNs).stopMonoNs(d.stopMonoNs).eventCount(d.eventCount);
  e.segmentLength(d.segmentLength).cleanStop(d.cleanStop ? BooleanType.TRUE : BooleanType.FALSE).reserved1(0).reserved2(0);
  const g = e.aliasesCount(d.aliases.length);
  for (const a of d.aliases) g.next().alias(a);
  e.channel(d.channel).source(d.source);
  e.checksum(descriptorChecksum(buf, 0));
  return buf;
}

describe('storage records agree with the generated codecs in both directions', () => {
  it('layout offsets derived from the codecs are the ones docs/FORMAT.md draws', () => {
    expect(FrameOffset).toEqual({ LENGTH: 0, TYPE: 4, FLAGS: 6, UTC: 8, MONO: 16, CRC: 24, RESERVED: 28 });
    expect([FRAME_HEADER_LENGTH, MESSAGE_HEADER_LENGTH, TIME_INDEX_ENTRY_LENGTH]).toEqual([32, 8, 16]);
    expect([DescOffset.CHECKSUM, DescOffset.VAR_START, CatalogHeaderOffset.NEXT_RECORDING_ID, HOLDS_CHECKSUM_OFFSET]).toEqual([8, 88, 32, 8]);
    expect(Object.values(TemplateId)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([FrameFlags.UNTERMINATED, DELETION_LOG_HEADER_LENGTH, DELETION_LOG_ENTRY_LENGTH]).toEqual([1, 32, 24]);
  });

  it('frames: the writer writes what the generated encoder writes, and the engine reads generated frames', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG, indexStride: 64 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 2n });
    const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(500, 7), Buffer.from('twelve bytes')];
    payloads.forEach((p, i) => w.append(p, 0, p.length, 1000n + BigInt(i), -5n - BigInt(i)));
    w.commit();
    const written = readFileSync(join(dir, '0-0.rec'));
    const expected = Buffer.alloc(SEG);
    let off = 0;
    payloads.forEach((p, i) => {
      generatedFrame(expected, off, FrameType.DATA, p, 1000n + BigInt(i), -5n - BigInt(i));
      off += (FRAME_HEADER_LENGTH + p.length + 7) & ~7;
    });
    expect(written.subarray(0, off + 64).equals(expected.subarray(0, off + 64))).toBe(true);
    w.stop();
    a.close();

    // generated-only segment: DATA frames, a DELETED run, a PADDING frame to the end
    const seg = Buffer.alloc(SEG);
    generatedFrame(seg, 0, FrameType.DATA, Buffer.from('first'), 10n, 1n);
    generatedFrame(seg, 40, FrameType.DELETED, Buffer.alloc(0), 11n, 2n, 80);
    generatedFrame(seg, 120, FrameType.DATA, Buffer.from('third!'), 12n, 3n);
    generatedFrame(seg, 160, FrameType.PADDING, Buffer.alloc(0), 12n, 3n, SEG - 160);
    for (const at of [0, 40, 120, 160]) expect(checkFrame(seg, at, SEG, true)).toBe(FrameStatus.OK);
    const scan = scanForward(source(seg), 0, { verifyCrc: true, limit: SEG });
    expect([scan.end, scan.dataFrames, scan.lastUtcNs, scan.lastMonoNs, scan.stoppedBy]).toEqual([SEG, 2, 12n, 3n, 'limit']);
    const cursor = new FrameCursor(0, source(seg), 0, true);
    const got: [number, bigint, bigint, string][] = [];
    while (cursor.next(SEG)) got.push([cursor.framePosition, cursor.utcNs, cursor.monoNs, cursor.buffer.toString('utf8', cursor.payloadOffset, cursor.payloadOffset + cursor.payloadLength)]);
    expect(got).toEqual([
      [0, 10n, 1n, 'first'],
      [120, 12n, 3n, 'third!'],
    ]);

    // the engine's header-only frames equal the generated ones
    const mine = Buffer.alloc(SEG);
    writeHeaderOnlyFrame(mine, 40, 80, FrameType.DELETED, 11n, 2n);
    writeHeaderOnlyFrame(mine, 160, SEG - 160, FrameType.PADDING, 12n, 3n);
    expect(mine.subarray(40, 192).equals(seg.subarray(40, 192).fill(0, 80, 120))).toBe(true);
    const h = new EventFrameHeaderDecoder().wrap(mine, 160);
    expect([h.frameLength(), h.frameType(), h.utcNs()]).toEqual([SEG - 160, FrameType.PADDING, 12n]);
  });

  it('frames: the readers\' typed-array cursor and the generated decoder see the same fields, for any 64-bit time', () => {
    const times = [0n, 1n, -1n, 1_700_000_000_123_456_789n, (1n << 63n) - 1n, -(1n << 63n), 1n << 32n, (1n << 32n) - 1n];
    const seg = Buffer.alloc(SEG);
    const at: number[] = [];
    let off = 0;
    times.forEach((t, i) => {
      at.push(off);
      const payload = Buffer.alloc(i * 3, i);
      generatedFrame(seg, off, FrameType.DATA, payload, t, times[times.length - 1 - i]!);
      off += (FRAME_HEADER_LENGTH + payload.length + 7) & ~7;
    });
    const cursor = new FrameCursor(0, source(seg), 0, false);
    const d = new EventFrameHeaderDecoder();
    for (const position of at) {
      expect(cursor.next(off)).toBe(true);
      d.wrap(seg, position);
      expect([cursor.framePosition, cursor.utcNs, cursor.monoNs, cursor.payloadLength]).toEqual([position, d.utcNs(), d.monoNs(), d.frameLength() - FRAME_HEADER_LENGTH]);
    }
    expect(cursor.next(off)).toBe(false);
  });

  it('descriptor and metadata: engine bytes equal generated bytes; live updates equal a full encode', () => {
    for (const templateId of [TemplateId.RECORDING_DESCRIPTOR, TemplateId.RECORDING_METADATA]) {
      const mine = Buffer.alloc(4096);
      encodeDescriptor(sample, mine, 0, templateId);
      const theirs = generatedDescriptor(sample, templateId);
      expect(mine.equals(theirs)).toBe(true);
      const code = templateId === TemplateId.RECORDING_METADATA ? ErrorCode.CORRUPT_METADATA : ErrorCode.CORRUPT_CATALOG;
      expect(decodeDescriptor(theirs, 0, templateId, code)).toEqual(sample);
    }
    const live = Buffer.alloc(4096);
    encodeDescriptor(sample, live, 0, TemplateId.RECORDING_METADATA);
    const after = { ...sample, lifecycle: 'failed' as const, failureCode: 1234, stopPosition: 99_000, stopUtcNs: sample.stopUtcNs + 9n, stopMonoNs: 99n, eventCount: 1_000_001, cleanStop: true };
    new LiveMetadataWriter(live).update(after);
    const full = Buffer.alloc(4096);
    encodeDescriptor(after, full, 0, TemplateId.RECORDING_METADATA);
    expect(live.equals(full)).toBe(true);
  });

  it('descriptor: var data that overruns the slot is CORRUPT_*, even under a valid checksum', () => {
    const buf = Buffer.alloc(4096);
    encodeDescriptor(sample, buf, 0, TemplateId.RECORDING_DESCRIPTOR);
    const channelAt = DescOffset.VAR_START + 4 + sample.aliases.reduce((n, a) => n + 2 + Buffer.byteLength(a), 0);
    buf.writeUInt16LE(4000, channelAt);
    buf.writeUInt32LE(descriptorChecksum(buf, 0), DescOffset.CHECKSUM);
    expect(() => decodeDescriptor(buf, 0, TemplateId.RECORDING_DESCRIPTOR, ErrorCode.CORRUPT_CATALOG)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_CATALOG }));
    encodeDescriptor(sample, buf, 0, TemplateId.RECORDING_METADATA);
    buf.writeUInt16LE(65535, DescOffset.VAR_START + 2); // alias count
    buf.writeUInt32LE(descriptorChecksum(buf, 0), DescOffset.CHECKSUM);
    expect(() => decodeDescriptor(buf, 0, TemplateId.RECORDING_METADATA, ErrorCode.CORRUPT_METADATA)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_METADATA }));
    buf.writeUInt16LE(5000, 0); // block length past the slot
    buf.writeUInt32LE(descriptorChecksum(buf, 0), DescOffset.CHECKSUM);
    expect(() => decodeDescriptor(buf, 0, TemplateId.RECORDING_METADATA, ErrorCode.CORRUPT_METADATA)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_METADATA }));
  });

  it('holds: engine bytes equal generated bytes, the engine reads generated bytes, damage is CORRUPT_METADATA', () => {
    const data: HoldsData = {
      nextId: 9,
      quarantines: [{ id: 1, channel: 'radar', fromUtcNs: -10n, toUtcNs: 20n }, { id: 4, fromUtcNs: 30n, toUtcNs: 40n }],
      deletions: [
        { id: 3, fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: -1, bytesReclaimed: 0 },
        {
          id: 8,
          channel: 'ß',
          fromUtcNs: 5n,
          toUtcNs: 6n,
          framesDeleted: 12,
          bytesReclaimed: 8192,
          external: true,
          holds: [{ channel: 'radar', fromUtcNs: 5n, toUtcNs: 6n }, { fromUtcNs: -1n, toUtcNs: 1n }],
          recordings: [2, 11],
        },
      ],
    };
    const mine = encodeHolds(data);
    const theirs = Buffer.alloc(mine.length);
    const e = new HoldsEncoder().wrapAndApplyHeader(theirs, 0, new MessageHeaderEncoder()).checksum(0).reserved(0).nextId(9);
    const qs = e.quarantinesCount(2);
    qs.next().holdId(1).fromUtcNs(-10n).toUtcNs(20n).allChannels(BooleanType.FALSE).channel('radar');
    qs.next().holdId(4).fromUtcNs(30n).toUtcNs(40n).allChannels(BooleanType.TRUE).channel('');
    const ds = e.deletionsCount(2);
    ds.next().deletionId(3).fromUtcNs(1n).toUtcNs(2n).framesDeleted(-1).bytesReclaimed(0).allChannels(BooleanType.TRUE).channel('');
    const second = ds.next().deletionId(8).fromUtcNs(5n).toUtcNs(6n).framesDeleted(12).bytesReclaimed(8192).allChannels(BooleanType.FALSE);
    second.flags().clear().externalId(true).explicitHolds(true).recordingIds(true);
    second.channel('ß');
    const hs = e.deletionHoldsCount(2);
    hs.next().deletionIndex(1n).fromUtcNs(5n).toUtcNs(6n).allChannels(BooleanType.FALSE).channel('radar');
    hs.next().deletionIndex(1n).fromUtcNs(-1n).toUtcNs(1n).allChannels(BooleanType.TRUE).channel('');
    const rs = e.deletionRecordingsCount(2);
    rs.next().deletionIndex(1n).recordingId(2);
    rs.next().deletionIndex(1n).recordingId(11);
    expect(MESSAGE_HEADER_LENGTH + e.encodedLength()).toBe(theirs.length);
    e.checksum(nativeCrc32c(theirs));
    expect(mine.equals(theirs)).toBe(true);
    expect(decodeHolds(theirs)).toEqual(data);
    const cut = theirs.subarray(0, theirs.length - 3);
    expect(() => decodeHolds(cut)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_METADATA }));
    const truncatedButSigned = Buffer.from(cut);
    truncatedButSigned.writeUInt32LE(0, HOLDS_CHECKSUM_OFFSET);
    truncatedButSigned.writeUInt32LE(nativeCrc32c(truncatedButSigned), HOLDS_CHECKSUM_OFFSET);
    expect(() => decodeHolds(truncatedButSigned)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_METADATA }));
  });

  it('time index: file bytes equal generated bytes, and the engine loads a generated index', () => {
    const dir = tempDir();
    const idx = new TimeIndex(3, 64, 1); // capacity 1: the entry buffer grows while adding
    const entries: [bigint, number][] = [[100n, 0], [150n, 64], [150n, 200], [900n, 4096]];
    for (const [u, p] of entries) idx.onFrame(u, p);
    idx.onFrame(901n, 4100); // same stride as 4096: not an entry
    idx.writeAll(dir);
    const theirs = Buffer.alloc(TIME_INDEX_HEADER_LENGTH + entries.length * TIME_INDEX_ENTRY_LENGTH);
    new TimeIndexHeaderEncoder().wrapAndApplyHeader(theirs, 0, new MessageHeaderEncoder()).recordingId(3).strideBytes(64).entryLength(16).entriesOffset(64).reserved(0);
    entries.forEach(([u, p], i) => new TimeIndexEntryEncoder().wrap(theirs, TIME_INDEX_HEADER_LENGTH + i * TIME_INDEX_ENTRY_LENGTH).utcNs(u).position(p));
    expect(readFileSync(join(dir, '3.tix')).equals(theirs)).toBe(true);
    writeFileSync(join(dir, '3.tix'), theirs);
    const loaded = TimeIndex.load(dir, 3, 64, 8192);
    expect(Array.from({ length: loaded.length }, (_, i) => [loaded.utcAt(i), loaded.positionAt(i)])).toEqual(entries);
    expect([loaded.floorBefore(100n), loaded.floorBefore(151n), loaded.floorBefore(10_000n)]).toEqual([-1, 200, 4096]);
    expect(loaded.filter((p) => p !== 64)).toBe(1);
    expect(Array.from({ length: loaded.length }, (_, i) => loaded.positionAt(i))).toEqual([0, 200, 4096]);
    loaded.truncateFrom(200);
    expect(loaded.length).toBe(1);
  });
});
