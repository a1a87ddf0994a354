/**
 * Pins the on-disk layouts: byte snapshots of each record, and agreement between the storage
 * engine's hand-placed fields (hot paths) and the codecs generated from codecs/storage.xml.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import {
  EventFrameHeaderDecoder,
  HoldsDecoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
  RecordingDescriptorDecoder,
  RecordingDescriptorEncoder,
  RecordingMetadataDecoder,
  TimeIndexEntryDecoder,
  TimeIndexHeaderDecoder,
  CatalogHeaderDecoder,
  ArchiveMarkDecoder,
  DeletionLogEntryDecoder,
  DeletionLogHeaderDecoder,
  DescriptorState,
  RecordingLifecycle,
  BooleanType,
  FrameType as GenFrameType,
} from '../../codecs/generated/storage/index.js';
import { Archive } from '../../src/storage/archive.js';
import { encodeSource } from '../../src/util/source-address.js';
import { decodeDescriptor, descriptorChecksum, encodeDescriptor } from '../../src/storage/descriptor-codec.js';
import { decodeHolds, encodeHolds } from '../../src/storage/holds-file.js';
import { DescOffset, FrameFlags, TemplateId } from '../../src/storage/layout.js';
import type { RecordingDescriptor } from '../../src/storage/types.js';
import { ErrorCode } from '../../src/util/errors.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();

const sample: RecordingDescriptor = {
  recordingId: 7,
  state: 'valid',
  lifecycle: 'stopped',
  failureCode: 0,
  startPosition: 0,
  stopPosition: 4096,
  startUtcNs: 1_700_000_000_000_000_000n,
  stopUtcNs: 1_700_000_001_000_000_000n,
  startMonoNs: 11n,
  stopMonoNs: 22n,
  eventCount: 33,
  segmentLength: 65536,
  cleanStop: true,
  channel: 'radar.tracks',
  aliases: ['radar', 'tracks'],
  source: 'udp://127.0.0.1:9000',
};

describe('on-disk layouts', () => {
  it('descriptor: byte snapshot, and the generated decoder reads what the engine writes', () => {
    const buf = Buffer.alloc(4096);
    encodeDescriptor(sample, buf, 0, TemplateId.RECORDING_DESCRIPTOR);
    expect(buf.subarray(0, 160).toString('hex')).toBe(
      '5000020066000400b21f25c3010200000700000000000000' + // header (schema version 4), checksum, state, lifecycle, failureCode, recordingId
        '00000000000000000010000000000000' + // start, stop position
        '00002a36fe9c971700cac471fe9c97170b000000000000001600000000000000' + // start/stop utc, start/stop mono
        '21000000000000000000010001000000' + // eventCount, segmentLength, cleanStop, reserved
        '000002000500726164617206007472616' + '36b73' + // aliases group: blockLength 0, count 2, "radar", "tracks"
        '0c0072616461722e747261636b73' + '14007564703a2f2f3132372e302e302e313a39303030' + // channel, source
        '0000000000000000000000000000000000',
    );
    const zeroed = Buffer.from(buf);
    zeroed.writeUInt32LE(0, 8);
    expect(buf.readUInt32LE(8)).toBe(nativeCrc32c(zeroed));
    const d = new RecordingDescriptorDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder().wrap(buf, 0));
    expect(d.checksum()).toBe(descriptorChecksum(buf, 0));
    expect(d.state()).toBe(DescriptorState.VALID);
    expect(d.lifecycle()).toBe(RecordingLifecycle.STOPPED);
    expect(d.recordingId()).toBe(7);
    expect(d.stopPosition()).toBe(4096);
    expect(d.startUtcNs()).toBe(sample.startUtcNs);
    expect(d.stopMonoNs()).toBe(22n);
    expect(d.eventCount()).toBe(33);
    expect(d.segmentLength()).toBe(65536);
    expect(d.cleanStop()).toBe(BooleanType.TRUE);
    const aliases: string[] = [];
    for (const a of d.aliases()) aliases.push(a.alias());
    expect(aliases).toEqual(['radar', 'tracks']);
    expect(d.channel()).toBe('radar.tracks');
    expect(d.source()).toBe('udp://127.0.0.1:9000');
  });

  it('descriptor: the engine reads what the generated encoder writes; checksum covers all 4096 bytes', () => {
    const buf = Buffer.alloc(4096);
    const e = new RecordingDescriptorEncoder().wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder());
    e.state(DescriptorState.VALID).lifecycle(RecordingLifecycle.RECORDING).failureCode(0).recordingId(3).startPosition(0).stopPosition(800);
    e.startUtcNs(5n).stopUtcNs(6n).startMonoNs(7n).stopMonoNs(8n).eventCount(9).segmentLength(1 << 20).cleanStop(BooleanType.FALSE);
    e.aliasesCount(1).next().alias('a1');
    e.channel('ch').source('src');
    buf.writeUInt32LE(descriptorChecksum(buf, 0), DescOffset.CHECKSUM);
    const d = decodeDescriptor(buf, 0, TemplateId.RECORDING_DESCRIPTOR, ErrorCode.CORRUPT_CATALOG);
    expect(d).toMatchObject({ recordingId: 3, lifecycle: 'recording', stopPosition: 800, eventCount: 9, segmentLength: 1 << 20, aliases: ['a1'], channel: 'ch', source: 'src' });
    buf[4000] = 1;
    expect(() => decodeDescriptor(buf, 0, TemplateId.RECORDING_DESCRIPTOR, ErrorCode.CORRUPT_CATALOG)).toThrowError(
      expect.objectContaining({ code: ErrorCode.CORRUPT_CATALOG }),
    );
  });

  it('segment frame, catalog header, metadata, time index and mark files match the schema', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 65536, indexStride: 64 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 2n });
    const p = Buffer.from('hello');
    w.append(p, 0, p.length, 0x0102030405060708n, 0x1112131415161718n);
    w.append(p, 0, 3, 0x0102030405060709n, 0x1112131415161719n);
    w.commit();
    const seg = readFileSync(join(dir, '0-0.rec'));
    // frame 0: length 37, DATA, flags 0, utc, mono, crc, reserved, "hello", 3 bytes alignment
    expect(seg.subarray(0, 48).toString('hex')).toBe(
      '2500000001000000080706050403020118171615141312110c561ba20000000068656c6c6f000000' + '2300000001000000',
    );
    const frame = Buffer.from(seg.subarray(0, 37));
    frame.writeUInt32LE(0, 24);
    expect(seg.readUInt32LE(24)).toBe(nativeCrc32c(frame)); // CRC32C of header (crc zeroed) + payload
    const f = new EventFrameHeaderDecoder().wrap(seg, 0);
    expect([f.frameLength(), f.frameType(), f.flags(), f.utcNs(), f.monoNs(), f.reserved()]).toEqual([37, GenFrameType.DATA, 0, 0x0102030405060708n, 0x1112131415161718n, 0]);
    const cat = readFileSync(join(dir, 'catalog.dat'));
    expect(cat.subarray(0, 40).toString('hex')).toBe('2000010066000400564352434154' + '4c47' + '04000000' + '00100000' + '00100000' + '00000000' + '0100000000000000');
    const ch = new CatalogHeaderDecoder().wrapAndApplyHeader(cat, 0, new MessageHeaderDecoder().wrap(cat, 0));
    expect([ch.magic(), ch.formatVersion(), ch.headerLength(), ch.descriptorLength(), ch.nextRecordingId()]).toEqual(['VCRCATLG', 4, 4096, 4096, 1]);
    const meta = readFileSync(join(dir, '0.meta'));
    const m = new RecordingMetadataDecoder().wrapAndApplyHeader(meta, 0, new MessageHeaderDecoder().wrap(meta, 0));
    expect([m.lifecycle(), m.stopPosition(), m.eventCount(), m.stopUtcNs()]).toEqual([RecordingLifecycle.RECORDING, 80, 2, 0x0102030405060709n]);
    const tix = readFileSync(join(dir, '0.tix'));
    const th = new TimeIndexHeaderDecoder().wrapAndApplyHeader(tix, 0, new MessageHeaderDecoder().wrap(tix, 0));
    expect([th.recordingId(), th.strideBytes(), th.entryLength(), th.entriesOffset()]).toEqual([0, 64, 16, 64]);
    expect(tix.length).toBe(64 + 16); // both frames start in the first 64-byte stride
    const e0 = new TimeIndexEntryDecoder().wrap(tix, 64);
    expect([e0.utcNs(), e0.position()]).toEqual([0x0102030405060708n, 0]);
    const mark = readFileSync(join(dir, 'archive.mark'));
    const mk = new ArchiveMarkDecoder().wrapAndApplyHeader(mark, 0, new MessageHeaderDecoder().wrap(mark, 0));
    expect([mk.formatVersion(), mk.pid()]).toEqual([4, process.pid]);
    w.stop();
    a.close();
  });

  it('holds file decodes with the generated codec', () => {
    const b = encodeHolds({
      nextId: 4,
      quarantines: [{ id: 1, channel: 'radar', fromUtcNs: 10n, toUtcNs: 20n }, { id: 2, fromUtcNs: 30n, toUtcNs: 40n }],
      deletions: [{ id: 3, channel: 'x', fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: 5, bytesReclaimed: 4096 }],
    });
    const h = new HoldsDecoder().wrapAndApplyHeader(b, 0, new MessageHeaderDecoder().wrap(b, 0));
    expect(h.nextId()).toBe(4);
    const qs: unknown[] = [];
    for (const q of h.quarantines()) qs.push([q.holdId(), q.fromUtcNs(), q.toUtcNs(), q.allChannels(), q.channel()]);
    expect(qs).toEqual([
      [1, 10n, 20n, BooleanType.FALSE, 'radar'],
      [2, 30n, 40n, BooleanType.TRUE, ''],
    ]);
    const ds: unknown[] = [];
    for (const d of h.deletions()) ds.push([d.deletionId(), d.framesDeleted(), d.bytesReclaimed(), d.channel()]);
    expect(ds).toEqual([[3, 5, 4096, 'x']]);
  });
});

describe('on-disk layouts of format version 2', () => {
  it('frame flags, deletion log and away marker: byte snapshots', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 65536 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 2n });
    const p = Buffer.from('tail');
    w.append(p, 0, p.length, 0x0102030405060708n, 0x1112131415161718n, FrameFlags.UNTERMINATED);
    w.append(p, 0, 2, 0x0102030405060709n, 0x1112131415161719n);
    w.stop();
    const seg = readFileSync(join(dir, '0-0.rec'));
    // length 36, DATA, flags 1 (UNTERMINATED), utc, mono, crc, reserved, "tail", 4 bytes alignment
    expect(seg.subarray(0, 40).toString('hex')).toBe('240000000100010008070605040302011817161514131211a0f7dd87000000007461696c00000000');
    const frame = Buffer.from(seg.subarray(0, 36));
    frame.writeUInt32LE(0, 24);
    expect(seg.readUInt32LE(24)).toBe(nativeCrc32c(frame)); // the flags are inside the CRC's bytes
    a.deleteEvents({ fromUtcNs: 0x0102030405060708n, toUtcNs: 0x0102030405060709n });
    a.dropSegment(0, 0);
    a.close();
    expect(readFileSync(join(dir, '0-0.away')).length).toBe(0);
    expect(existsSync(join(dir, '0-0.dlog'))).toBe(false); // the log goes with the segment
  });

  it('deletion log: header and entries', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 65536 });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 1n, startMonoNs: 2n });
    const p = Buffer.from('hello');
    w.append(p, 0, p.length, 0x0102030405060708n, 0x1112131415161718n);
    w.append(p, 0, 3, 0x0102030405060709n, 0x1112131415161719n);
    w.stop();
    a.deleteEvents({ fromUtcNs: 0x0102030405060708n, toUtcNs: 0x0102030405060709n });
    a.close();
    const log = readFileSync(join(dir, '0-0.dlog'));
    expect(log.toString('hex')).toBe(
      '1800070066000400' + // message header: blockLength 24, template 7, schema 102, version 4
        '0000000000000000' + '0000000000000000' + '18000000' + '20000000' + // recordingId 0, base 0, entryLength 24, entriesOffset 32
        '0000000000000000' + '25000000' + '0c561ba2' + '0807060504030201', // position 0, frameLength 37, crc32c, utcNs
    );
    const h = new DeletionLogHeaderDecoder().wrapAndApplyHeader(log, 0, new MessageHeaderDecoder().wrap(log, 0));
    expect([h.recordingId(), h.basePosition(), h.entryLength(), h.entriesOffset()]).toEqual([0n, 0n, 24, 32]);
    const e = new DeletionLogEntryDecoder().wrap(log, 32);
    expect([e.position(), e.frameLength(), e.crc32c(), e.utcNs()]).toEqual([0n, 37, 0xa21b560c, 0x0102030405060708n]);
  });

  // the body of a holds.dat written by the version-2 and version-3 engines (after nextId at byte 24)
  const version2HoldsBody =
    '1900' + '0000' + // quarantines: blockLength 25, none
    '2a00' + '0100' + // deletions: blockLength 42, one
    '8403000000000000' + '0100000000000000' + '0200000000000000' + 'ffffffffffffffff' + '0000000000000000' + '01' + '03' + '0000' + // id, from, to, framesDeleted, bytes, allChannels, flags (externalId|explicitHolds), channel ""
    '1900' + '0100' + // deletionHolds: blockLength 25, one
    '0000000000000000' + '0300000000000000' + '0400000000000000' + '00' + '010078'; // deletion index 0, from, to, allChannels false, channel "x"
  const version2Deletion = { id: 900, fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: -1, bytesReclaimed: 0, external: true, holds: [{ channel: 'x', fromUtcNs: 3n, toUtcNs: 4n }] };

  it('holds.dat version 2: deletion flags and explicit holds; such a file (and a version-3 one) reads with no recording ids', () => {
    for (const version of ['0200', '0300']) {
      const old = Buffer.from('1000050066000' + version.slice(1) + '00000000' + '00000000' + '0200000000000000' + version2HoldsBody, 'hex');
      old.writeUInt32LE(nativeCrc32c(old), 8);
      expect(decodeHolds(old)).toEqual({ nextId: 2, quarantines: [], deletions: [version2Deletion] });
    }
    // written again now, the same deletion has the same bytes, then an empty deletionRecordings group
    const b = encodeHolds({ nextId: 2, quarantines: [], deletions: [version2Deletion] });
    expect(b.subarray(0, 8).toString('hex')).toBe('1000050066000400');
    expect(b.subarray(24).toString('hex')).toBe(version2HoldsBody + '1000' + '00000000');
  });
});

describe('on-disk layouts of format version 4', () => {
  it('holds.dat version 4: the recordings each deletion covers', () => {
    const data = {
      nextId: 4,
      quarantines: [],
      deletions: [
        { id: 900, fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: -1, bytesReclaimed: 0, external: true, holds: [], recordings: [5, 7] },
        { id: 3, channel: 'x', fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: 0, bytesReclaimed: 0, recordings: [] },
        { id: 2, channel: 'x', fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: 0, bytesReclaimed: 0 },
      ],
    };
    const b = encodeHolds(data);
    expect(b.subarray(0, 8).toString('hex')).toBe('1000050066000400'); // blockLength 16, template 5, schema 102, version 4
    expect(b.subarray(16, 24).toString('hex')).toBe('0400000000000000'); // nextId
    expect(b.subarray(24).toString('hex')).toBe(
      '1900' + '0000' + // quarantines: blockLength 25, none
        '2a00' + '0300' + // deletions: blockLength 42, three
        '8403000000000000' + '0100000000000000' + '0200000000000000' + 'ffffffffffffffff' + '0000000000000000' + '01' + '07' + '0000' + // flags externalId|explicitHolds|recordingIds, channel ""
        '0300000000000000' + '0100000000000000' + '0200000000000000' + '0000000000000000' + '0000000000000000' + '00' + '04' + '010078' + // flags recordingIds (it names none), channel "x"
        '0200000000000000' + '0100000000000000' + '0200000000000000' + '0000000000000000' + '0000000000000000' + '00' + '00' + '010078' + // no recordingIds flag: by channel
        '1900' + '0000' + // deletionHolds: blockLength 25, none
        '1000' + '02000000' + // deletionRecordings: blockLength 16, count 2 (uint32)
        '0000000000000000' + '0500000000000000' + // deletion index 0, recording 5
        '0000000000000000' + '0700000000000000', // deletion index 0, recording 7
    );
    expect(decodeHolds(b)).toEqual(data);
    const h = new HoldsDecoder().wrapAndApplyHeader(b, 0, new MessageHeaderDecoder().wrap(b, 0));
    const qs = h.quarantines();
    while (qs.hasNext()) qs.next().sbeSkip();
    const flags: string[][] = [];
    for (const d of h.deletions()) {
      flags.push(d.flags()!.choices());
      d.sbeSkip(); // past its channel
    }
    expect(flags).toEqual([['externalId', 'explicitHolds', 'recordingIds'], ['recordingIds'], []]);
    const hs = h.deletionHolds();
    while (hs.hasNext()) hs.next().sbeSkip();
    const rows: unknown[] = [];
    for (const r of h.deletionRecordings()) rows.push([r.deletionIndex(), r.recordingId()]);
    expect(rows).toEqual([
      [0n, 5],
      [0n, 7],
    ]);
  });

  it('holds.dat: a recording id row for a deletion without the recordingIds flag is CORRUPT_METADATA', () => {
    const b = encodeHolds({ nextId: 1, quarantines: [], deletions: [{ id: 1, fromUtcNs: 1n, toUtcNs: 2n, framesDeleted: 0, bytesReclaimed: 0, recordings: [9] }] });
    const flagsAt = 24 + 4 + 4 + 41; // after nextId: quarantines header, deletions header, then the row's flags byte
    expect(b[flagsAt]).toBe(0x04);
    b[flagsAt] = 0;
    b.writeUInt32LE(0, 8);
    b.writeUInt32LE(nativeCrc32c(b), 8);
    expect(() => decodeHolds(b)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_METADATA }));
  });
});

describe('on-disk layouts of format version 3', () => {
  it('frame source address trailer: byte snapshots (IPv4 6 bytes, IPv6 18 bytes, after the payload)', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: 65536 });
    const w = a.createRecording({ channel: 'c', source: 'udp://127.0.0.1:9000', startUtcNs: 1n, startMonoNs: 2n });
    const src = Buffer.alloc(18);
    const p = Buffer.from('ab');
    let flags = encodeSource('192.0.2.7', 0x1234, src, 0);
    w.append(p, 0, p.length, 0x0102030405060708n, 0x1112131415161718n, flags, src, 0);
    flags = encodeSource('2001:db8::1', 5000, src, 0);
    w.append(p, 0, 1, 0x0102030405060709n, 0x1112131415161719n, flags, src, 0);
    w.stop();
    const seg = readFileSync(join(dir, '0-0.rec'));
    // frame 0: length 40 (32 + "ab" + 6), DATA, flags 2 (SOURCE_IPV4), utc, mono, crc, reserved,
    // "ab", 192.0.2.7 (network order), port 0x1234 (little endian); aligned to 40
    expect(seg.subarray(0, 24).toString('hex')).toBe('280000000100020008070605040302011817161514131211');
    expect(seg.subarray(28, 40).toString('hex')).toBe('000000006162c000020734' + '12');
    const f0 = Buffer.from(seg.subarray(0, 40));
    f0.writeUInt32LE(0, 24);
    expect(seg.readUInt32LE(24)).toBe(nativeCrc32c(f0)); // the trailer is inside the CRC's bytes
    // frame 1 at 40: length 51 (32 + "a" + 18), flags 4 (SOURCE_IPV6), "a", 2001:db8::1, port 5000
    expect(seg.subarray(40, 48).toString('hex')).toBe('3300000001000400');
    expect(seg.subarray(72, 96).toString('hex')).toBe('61' + '20010db8000000000000000000000001' + '8813' + '0000000000');
    a.close();
  });
});
