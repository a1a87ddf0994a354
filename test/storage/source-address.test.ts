/**
 * The datagram's source address and port: an optional trailer of DATA frames (format version
 * 3), announced by the frame flags SOURCE_IPV4 / SOURCE_IPV6, covered by the CRC, not part of
 * the payload any reader hands out. Replicas copy it as bytes and the digests still verify.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventFrameHeaderDecoder, FrameSourceIpv4Decoder, FrameSourceIpv6Decoder } from '../../codecs/generated/storage/index.js';
import { Archive } from '../../src/storage/archive.js';
import { dumpFrames } from '../../src/storage/dump.js';
import { FrameFlags } from '../../src/storage/layout.js';
import type { SealedSegment } from '../../src/storage/types.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { ErrorCode } from '../../src/util/errors.js';
import { encodeSource, frameSource, type EventSource } from '../../src/util/source-address.js';
import { cleanupTempDirs, payload, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

function enc(address: string, port: number): { flag: number; bytes: Buffer } {
  const bytes = Buffer.alloc(18);
  const flag = encodeSource(address, port, bytes, 0);
  return { flag, bytes };
}

interface Seen {
  payload: string;
  flags: number;
  source: EventSource | undefined;
}

function readAll(a: Archive, id: number): Seen[] {
  const out: Seen[] = [];
  const r = a.openReader(id);
  while (!r.isDone()) {
    r.poll((b, o, l, _p, _u, _m, flags) => out.push({ payload: b.toString('latin1', o, o + l), flags, source: frameSource(b, o, l, flags) }), 100);
  }
  return out;
}

describe('frame source address', () => {
  it('is stored after the payload (IPv4 in 6 bytes, IPv6 in 18) and handed to readers apart from the payload', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'udp', source: 'udp://127.0.0.1:9000', startUtcNs: 0n, startMonoNs: 0n });
    const v4 = enc('10.1.2.3', 40000);
    const v6 = enc('2001:db8::17', 65535);
    const mapped = enc('::ffff:192.0.2.9', 7);
    expect([v4.flag, v6.flag, mapped.flag]).toEqual([FrameFlags.SOURCE_IPV4, FrameFlags.SOURCE_IPV6, FrameFlags.SOURCE_IPV4]);
    const p0 = w.append(Buffer.from('abc'), 0, 3, 10n, 1n, v4.flag, v4.bytes, 0);
    const p1 = w.append(Buffer.from('hello, v6'), 0, 9, 11n, 2n, v6.flag | FrameFlags.UNTERMINATED, v6.bytes, 0);
    w.append(Buffer.from('none'), 0, 4, 12n, 3n);
    w.append(Buffer.alloc(0), 0, 0, 13n, 4n, mapped.flag, mapped.bytes, 0);
    const big = payload(5, 1000);
    w.append(big, 0, big.length, 14n, 5n, v4.flag, v4.bytes, 0); // the long-payload (native CRC) path
    w.stop();

    const seg = readFileSync(join(dir, '0-0.rec'));
    const h = new EventFrameHeaderDecoder();
    expect(h.wrap(seg, p0).frameLength()).toBe(32 + 3 + 6);
    expect(h.wrap(seg, p1).frameLength()).toBe(32 + 9 + 18);
    const s4 = new FrameSourceIpv4Decoder().wrap(seg, p0 + 32 + 3);
    expect([s4.address(0), s4.address(1), s4.address(2), s4.address(3), s4.port()]).toEqual([10, 1, 2, 3, 40000]);
    const s6 = new FrameSourceIpv6Decoder().wrap(seg, p1 + 32 + 9);
    expect([s6.address(0), s6.address(1), s6.address(15), s6.port()]).toEqual([0x20, 0x01, 0x17, 65535]);

    const expected: Seen[] = [
      { payload: 'abc', flags: FrameFlags.SOURCE_IPV4, source: { address: '10.1.2.3', port: 40000 } },
      { payload: 'hello, v6', flags: FrameFlags.SOURCE_IPV6 | FrameFlags.UNTERMINATED, source: { address: '2001:db8::17', port: 65535 } },
      { payload: 'none', flags: 0, source: undefined },
      { payload: '', flags: FrameFlags.SOURCE_IPV4, source: { address: '192.0.2.9', port: 7 } },
      { payload: big.toString('latin1'), flags: FrameFlags.SOURCE_IPV4, source: { address: '10.1.2.3', port: 40000 } },
    ];
    expect(readAll(a, 0)).toEqual(expected);
    const merged: string[] = [];
    const m = a.openMergedReader([{ recordingId: 0 }], 0n, 100n);
    while (!m.isDone()) m.poll((_id, b, o, l, _p, _u, _m, flags) => merged.push(`${b.toString('latin1', o, o + l)}@${frameSource(b, o, l, flags)?.address}`), 10);
    expect(merged).toEqual(expected.map((e) => `${e.payload}@${e.source?.address}`));
    const dumped = [...dumpFrames(dir, a.describe(0))];
    expect(dumped.map((f) => [f.payload.toString('latin1'), f.source])).toEqual(expected.map((e) => [e.payload, e.source]));
    a.close();
    expect(verifyArchive(dir).problems).toEqual([]);
  });

  it('is covered by the frame CRC', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const v4 = enc('127.0.0.1', 5000);
    const p = w.append(Buffer.from('x'), 0, 1, 1n, 1n, v4.flag, v4.bytes, 0);
    w.stop();
    a.close();
    const path = join(dir, '0-0.rec');
    const bytes = readFileSync(path);
    bytes[p + 32 + 1 + 3] ^= 1; // the address's last byte changed behind the CRC's back
    writeFileSync(path, bytes);
    expect(verifyArchive(dir).problems.map((x) => [x.file, x.offset, x.code])).toEqual([['0-0.rec', p, ErrorCode.CORRUPT_SEGMENT]]);
  });

  it('flags that do not fit the frame are damage, and an append without the source it announces is refused', () => {
    const dir = tempDir();
    const a = Archive.open(dir, { segmentLength: SEG });
    const w = a.createRecording({ channel: 'c', source: 's', startUtcNs: 0n, startMonoNs: 0n });
    const bad = (flags: number, src?: Buffer) => () => w.append(Buffer.from('x'), 0, 1, 1n, 1n, flags, src, 0);
    expect(bad(FrameFlags.SOURCE_IPV4)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(bad(FrameFlags.SOURCE_IPV6, Buffer.alloc(10))).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(bad(FrameFlags.SOURCE_IPV4 | FrameFlags.SOURCE_IPV6, Buffer.alloc(18))).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(w.position).toBe(0);
    // a 1-byte payload frame whose flags claim an 18-byte IPv6 trailer (CRC made to match): not a frame
    const v4 = enc('127.0.0.1', 5000);
    const p = w.append(Buffer.from('x'), 0, 1, 1n, 1n, v4.flag, v4.bytes, 0);
    w.stop();
    a.close();
    const path = join(dir, '0-0.rec');
    const bytes = readFileSync(path);
    bytes.writeUInt16LE(FrameFlags.SOURCE_IPV6, p + 6);
    writeFileSync(path, bytes);
    expect(verifyArchive(dir).problems.map((x) => x.code)).toContain(ErrorCode.CORRUPT_SEGMENT);
    const b = Archive.open(dir, { segmentLength: SEG, readOnly: true });
    expect(() => readAll(b, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    b.close();
  });

  it('travels with replicated frames as bytes; the replica reads the same sources and its digests verify', () => {
    const sealed: SealedSegment[] = [];
    const src = Archive.open(tempDir(), { segmentLength: SEG, onSegmentSealed: (s) => sealed.push(s) });
    const dst = Archive.open(tempDir(), { segmentLength: SEG });
    const w = src.createRecording({ channel: 'radar', source: 'udp://0.0.0.0:9000', startUtcNs: 0n, startMonoNs: 0n, recordingId: 3 });
    const sources = [enc('10.0.0.1', 1), enc('fe80::1:2', 2), enc('10.0.0.2', 3)];
    for (let i = 0; i < 600; i++) {
      const p = payload(i, 700);
      const s = sources[i % 3]!;
      w.append(p, 0, p.length, BigInt(i), BigInt(i), i % 4 === 0 ? 0 : s.flag, s.bytes, 0);
    }
    w.stop();
    const replica = dst.openReplica(src.describe(3));
    let position = 0;
    for (;;) {
      const r = src.readRawFrames(3, position, 5000);
      if (r.bytes.length === 0 && r.nextPosition === position) break;
      replica.appendFrames(position, r.bytes);
      position = r.nextPosition;
    }
    replica.stop(src.describe(3));
    expect(sealed.length).toBeGreaterThan(1);
    for (const s of sealed) expect(dst.verifySegment(3, s.base).digest).toBe(s.digest);
    const a = readAll(src, 3);
    expect(readAll(dst, 3)).toEqual(a);
    expect(a.filter((e) => e.source !== undefined).length).toBe(450);
    expect(a[1]!.source).toEqual({ address: 'fe80::1:2', port: 2 });
    src.close();
    dst.close();
  });
});
