/**
 * Capture reading, on real files built byte by byte from the specs (test/support): every
 * format variant (pcap in both byte orders, micro- and nanoseconds; pcapng in both byte orders
 * with if_tsresol / if_tsoffset, EPB and SPB, several interfaces), every link type, IPv4 and
 * IPv6 with extension headers, VLAN tags, and what is skipped and counted: non-UDP, fragments,
 * filtered, snaplen-cut, malformed, unsupported interfaces. Hostile files end with a code.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanCaptureFile, type ScannedDatagram } from '../../src/pcap/capture-scan.js';
import { parseFilterExpression } from '../../src/pcap/capture-filter.js';
import { ErrorCode } from '../../src/util/errors.js';
import { removeTempDirs, tempDir } from '../helpers/wait.js';
import { ethernet, ext6, frag6, ipv4, ipv6, nullLink, pcapFile, pcapngFile, sll, sll2, udp, type NgBlock, type PcapPacket } from '../support/capture-writer.js';

afterAll(() => removeTempDirs());
const dir = tempDir('vcr-pcap-');
let n = 0;

function scan(bytes: Buffer, filter = {}) {
  const path = join(dir, `c${n++}.cap`);
  writeFileSync(path, bytes);
  const got: ScannedDatagram[] = [];
  const result = scanCaptureFile(path, filter, (d) => got.push(d));
  return { ...result, got, payloads: got.map((d) => d.payload.toString()), times: got.map((d) => d.utcNs) };
}

const T0 = 1_700_000_000_123_456_789n;
const v4udp = (p: string, sport = 1000, dport = 2000) => ipv4('10.0.0.1', '10.0.0.2', udp(sport, dport, Buffer.from(p)));
const A6 = 'fd00:0:0:0:0:0:0:1';
const B6 = 'fd00:0:0:0:0:0:0:2';
const v6udp = (p: string) => ipv6(A6, B6, 17, udp(1000, 2000, Buffer.from(p)));

describe('classic pcap', () => {
  for (const endian of ['le', 'be'] as const) {
    for (const nano of [false, true]) {
      it(`${endian} ${nano ? 'nanosecond' : 'microsecond'}: payloads and times`, () => {
        const frames = ['one', 'two', 'three'].map((p) => ethernet(0x0800, v4udp(p)));
        const bytes = pcapFile({ endian, nano, linkType: 1 }, frames.map((frame, i) => ({ tsNs: T0 + BigInt(i) * 1_500_000n, frame })));
        const r = scan(bytes);
        expect(r.error).toBeUndefined();
        expect(r.format).toBe('pcap');
        expect(r.payloads).toEqual(['one', 'two', 'three']);
        const base = nano ? T0 : (T0 / 1000n) * 1000n;
        expect(r.times).toEqual([base, base + 1_500_000n, base + 3_000_000n]);
        expect(r.counts).toMatchObject({ packets: 3, datagrams: 3 });
      });
    }
  }

  const linkCases: [string, number, Buffer, Buffer][] = [
    ['Ethernet IPv4', 1, ethernet(0x0800, v4udp('a')), ethernet(0x86dd, v6udp('b'))],
    ['Ethernet 802.1Q', 1, ethernet(0x0800, v4udp('a'), [0x8100]), ethernet(0x86dd, v6udp('b'), [0x8100])],
    ['Ethernet QinQ', 1, ethernet(0x0800, v4udp('a'), [0x88a8, 0x8100]), ethernet(0x86dd, v6udp('b'), [0x9100, 0x8100])],
    ['Linux SLL', 113, sll(0x0800, v4udp('a')), sll(0x86dd, v6udp('b'))],
    ['Linux SLL with a VLAN tag', 113, sll(0x8100, Buffer.concat([Buffer.from([0, 5, 8, 0]), v4udp('a')])), sll(0x86dd, v6udp('b'))],
    ['Linux SLL2', 276, sll2(0x0800, v4udp('a')), sll2(0x86dd, v6udp('b'))],
    ['raw IP 101', 101, v4udp('a'), v6udp('b')],
    ['raw IP 12', 12, v4udp('a'), v6udp('b')],
    ['raw IP 14', 14, v4udp('a'), v6udp('b')],
    ['null, little-endian families', 0, nullLink(2, 'le', v4udp('a')), nullLink(30, 'le', v6udp('b'))],
    ['null, big-endian families', 0, nullLink(2, 'be', v4udp('a')), nullLink(24, 'be', v6udp('b'))],
    ['loop', 108, nullLink(2, 'be', v4udp('a')), nullLink(28, 'be', v6udp('b'))],
  ];
  for (const [name, linkType, f4, f6] of linkCases) {
    it(`link type ${linkType} (${name}): IPv4 and IPv6`, () => {
      const r = scan(pcapFile({ endian: 'le', nano: true, linkType }, [{ tsNs: T0, frame: f4 }, { tsNs: T0 + 1n, frame: f6 }]));
      expect(r.error).toBeUndefined();
      expect(r.payloads).toEqual(['a', 'b']);
      expect(r.got.map((d) => d.family)).toEqual([4, 6]);
    });
  }

  it('228 (IPv4) and 229 (IPv6) raw link types', () => {
    expect(scan(pcapFile({ endian: 'le', nano: true, linkType: 228 }, [{ tsNs: T0, frame: v4udp('x') }])).payloads).toEqual(['x']);
    expect(scan(pcapFile({ endian: 'le', nano: true, linkType: 229 }, [{ tsNs: T0, frame: v6udp('y') }])).payloads).toEqual(['y']);
  });
});

describe('IPv6 extension headers, fragments, what is skipped', () => {
  it('walks hop-by-hop, routing, destination options and atomic fragment headers', () => {
    const u = udp(1, 2, Buffer.from('ext'));
    const frames = [
      ipv6(A6, B6, 0, Buffer.concat([ext6(60, 2), ext6(17), u])),
      ipv6(A6, B6, 43, Buffer.concat([ext6(44), frag6(17, 0, false), u])),
      ipv6(A6, B6, 51, Buffer.concat([Buffer.from([17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]), u])), // AH: (1 + 2) * 4 = 12 bytes
    ];
    const r = scan(pcapFile({ endian: 'le', nano: true, linkType: 101 }, frames.map((frame, i) => ({ tsNs: T0 + BigInt(i), frame }))));
    expect(r.payloads).toEqual(['ext', 'ext', 'ext']);
  });

  it('counts and skips fragments, non-UDP, non-IP, snaplen-cut and malformed packets', () => {
    const frames = [
      ethernet(0x0800, v4udp('keep 1')),
      ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', udp(1, 2, Buffer.from('first frag')), { moreFragments: true })),
      ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', Buffer.from('rest of it'), { fragmentOffset8: 3 })),
      ethernet(0x86dd, ipv6(A6, B6, 44, Buffer.concat([frag6(17, 0, true), udp(1, 2, Buffer.from('v6 frag'))]))),
      ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', Buffer.alloc(20), { protocol: 6 })), // TCP
      ethernet(0x86dd, ipv6(A6, B6, 58, Buffer.alloc(8))), // ICMPv6
      ethernet(0x86dd, ipv6(A6, B6, 50, Buffer.alloc(16))), // ESP
      ethernet(0x0806, Buffer.alloc(28)), // ARP
      ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', udp(1, 2, Buffer.from('lying')), { totalLength: 22 })), // IP shorter than UDP says
      Buffer.alloc(0), // zero-length record
      ethernet(0x0800, v4udp('keep 2')),
    ];
    const packets: PcapPacket[] = frames.map((frame, i) => ({ tsNs: T0 + BigInt(i), frame }));
    const cut = ethernet(0x0800, v4udp('cut by the snapshot length'));
    packets.push({ tsNs: T0 + 100n, frame: cut, captured: 40 });
    const r = scan(pcapFile({ endian: 'be', nano: false, linkType: 1 }, packets));
    expect(r.error).toBeUndefined();
    expect(r.payloads).toEqual(['keep 1', 'keep 2']);
    expect(r.counts).toMatchObject({ packets: 12, datagrams: 2, fragments: 3, notUdp: 3, notIp: 1, malformed: 1, truncated: 2 });
  });

  it('applies the filter subset and counts what it drops', () => {
    const frames = [
      ethernet(0x0800, v4udp('p5000', 5000, 9)),
      ethernet(0x0800, v4udp('p6000', 6000, 5000)),
      ethernet(0x0800, v4udp('other', 1, 2)),
      ethernet(0x86dd, ipv6(A6, B6, 17, udp(5000, 1, Buffer.from('v6 5000')))),
    ];
    const bytes = pcapFile({ endian: 'le', nano: true, linkType: 1 }, frames.map((frame, i) => ({ tsNs: T0 + BigInt(i), frame })));
    expect(scan(bytes, parseFilterExpression('udp and port 5000')).payloads).toEqual(['p5000', 'p6000', 'v6 5000']);
    expect(scan(bytes, parseFilterExpression('src port 5000')).payloads).toEqual(['p5000', 'v6 5000']);
    expect(scan(bytes, parseFilterExpression('dst port 5000 and host 10.0.0.2')).payloads).toEqual(['p6000']);
    expect(scan(bytes, parseFilterExpression('ip6 and host fd00::1')).payloads).toEqual(['v6 5000']);
    const r = scan(bytes, parseFilterExpression('udp and dst host 10.0.0.2 and src port 1'));
    expect(r.payloads).toEqual(['other']);
    expect(r.counts.filtered).toBe(3);
    for (const bad of ['tcp', 'port 5000 or port 6000', 'not port 1', 'port 70000', 'host example.com', 'port 1 and port 2', 'port']) {
      expect(() => parseFilterExpression(bad), bad).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
  });
});

describe('pcapng', () => {
  for (const e of ['le', 'be'] as const) {
    it(`${e}: interfaces with their own link type and resolution, EPB and SPB, skipped blocks`, () => {
      const secs = T0 / 1_000_000_000n;
      const blocks: NgBlock[] = [
        { kind: 'shb' },
        { kind: 'idb', iface: { linkType: 1 } }, // microseconds by default
        { kind: 'idb', iface: { linkType: 113, tsresol: 9 } }, // nanoseconds
        { kind: 'idb', iface: { linkType: 101, tsresol: 0x80 | 20, tsoffset: 100n } }, // 2^-20 s, offset 100 s
        { kind: 'idb', iface: { linkType: 147 } }, // a link type not supported: its packets are counted
        { kind: 'other', type: 5, body: Buffer.alloc(12) }, // interface statistics: skipped
        { kind: 'epb', iface: 0, ticks: T0 / 1000n, frame: ethernet(0x0800, v4udp('eth µs')) },
        { kind: 'epb', iface: 1, ticks: T0 + 1000n, frame: sll(0x86dd, v6udp('sll ns')) },
        { kind: 'epb', iface: 2, ticks: (secs + 1n) << 20n, frame: v4udp('raw 2^-20') },
        { kind: 'epb', iface: 3, ticks: 5n, frame: Buffer.alloc(30) },
        { kind: 'shb' }, // a new section: interfaces start again
        { kind: 'idb', iface: { linkType: 1, tsresol: 3 } }, // milliseconds
        { kind: 'epb', iface: 0, ticks: (secs + 200n) * 1000n + 7n, frame: ethernet(0x0800, v4udp('ms')) },
        { kind: 'spb', frame: ethernet(0x0800, v4udp('simple')) },
      ];
      const r = scan(pcapngFile(e, blocks));
      expect(r.error).toBeUndefined();
      expect(r.format).toBe('pcapng');
      expect(r.payloads).toEqual(['eth µs', 'sll ns', 'raw 2^-20', 'ms', 'simple']);
      const msTime = (secs + 200n) * 1_000_000_000n + 7_000_000n;
      expect(r.times).toEqual([(T0 / 1000n) * 1000n, T0 + 1000n, (secs + 101n) * 1_000_000_000n, msTime, msTime]);
      expect(r.counts).toMatchObject({ packets: 6, datagrams: 5, unsupportedLink: 1, untimed: 1 });
    });
  }

  it('a packet dated before its predecessor keeps the predecessor time and is counted reordered', () => {
    const r = scan(
      pcapngFile('le', [
        { kind: 'shb' },
        { kind: 'idb', iface: { linkType: 101, tsresol: 9 } },
        { kind: 'epb', iface: 0, ticks: T0 + 10n, frame: v4udp('late') },
        { kind: 'epb', iface: 0, ticks: T0, frame: v4udp('early') },
      ]),
    );
    expect(r.times).toEqual([T0 + 10n, T0 + 10n]);
    expect(r.counts.reordered).toBe(1);
  });
});

describe('hostile captures end with a code and keep what was read', () => {
  const good = pcapFile({ endian: 'le', nano: true, linkType: 1 }, [0, 1, 2].map((i) => ({ tsNs: T0 + BigInt(i), frame: ethernet(0x0800, v4udp(`p${i}`)) })));

  it('truncated inside a record: CAPTURE_TRUNCATED after the whole records', () => {
    for (const cut of [good.length - 1, good.length - 20, 24 + 16 + 10]) {
      const r = scan(good.subarray(0, cut));
      expect(r.error?.code).toBe(ErrorCode.CAPTURE_TRUNCATED);
      expect(r.payloads).toEqual(['p0', 'p1', 'p2'].slice(0, cut === 24 + 16 + 10 ? 0 : 2));
    }
  });

  it('truncated header, empty file, bad magic, unknown link type, lying lengths', () => {
    expect(scan(good.subarray(0, 10)).error?.code).toBe(ErrorCode.CAPTURE_TRUNCATED);
    expect(scan(Buffer.alloc(0)).error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    expect(scan(Buffer.from('hello world, not a capture at all')).error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    expect(scan(pcapFile({ endian: 'le', nano: true, linkType: 147 }, [])).error?.code).toBe(ErrorCode.CAPTURE_UNSUPPORTED);
    const lying = Buffer.from(good);
    lying.writeUInt32LE(0x7fffffff, 24 + 8); // first record claims 2 GiB
    const r = scan(lying);
    expect(r.error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    expect(r.counts.packets).toBe(0);
  });

  it('pcapng: bad block lengths, unknown interface, no section header', () => {
    const ng = pcapngFile('le', [
      { kind: 'shb' },
      { kind: 'idb', iface: { linkType: 101 } },
      { kind: 'epb', iface: 0, ticks: 1n, frame: v4udp('ok') },
      { kind: 'epb', iface: 0, ticks: 2n, frame: v4udp('ok too') },
    ]);
    const shbLen = ng.readUInt32LE(4);
    const idbLen = ng.readUInt32LE(shbLen + 4);
    const epb2 = shbLen + idbLen + ng.readUInt32LE(shbLen + idbLen + 4);
    const badTrailer = Buffer.from(ng);
    badTrailer.writeUInt32LE(12, ng.length - 4);
    let r = scan(badTrailer);
    expect(r.error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    expect(r.payloads).toEqual(['ok']);
    const badLen = Buffer.from(ng);
    badLen.writeUInt32LE(13, epb2 + 4);
    expect(scan(badLen).error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    const badIface = Buffer.from(ng);
    badIface.writeUInt32LE(7, epb2 + 8);
    r = scan(badIface);
    expect(r.error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    expect(r.payloads).toEqual(['ok']);
    expect(scan(ng.subarray(shbLen)).error?.code).toBe(ErrorCode.CAPTURE_INVALID);
    r = scan(ng.subarray(0, ng.length - 3));
    expect(r.error?.code).toBe(ErrorCode.CAPTURE_TRUNCATED);
    expect(r.payloads).toEqual(['ok']);
    const huge = Buffer.from(ng);
    huge.writeUInt32LE(0xfffffff0, epb2 + 4);
    expect(scan(huge).error?.code).toBe(ErrorCode.CAPTURE_INVALID);
  });

  it('random garbage after a valid header never hangs or crashes', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + (i % 97) }, rnd));
      const bytes = Buffer.concat([i % 2 ? good.subarray(0, 24) : pcapngFile('le', [{ kind: 'shb' }, { kind: 'idb', iface: { linkType: 1 } }]), junk]);
      const r = scan(bytes);
      if (r.error) expect([ErrorCode.CAPTURE_TRUNCATED, ErrorCode.CAPTURE_INVALID, ErrorCode.CAPTURE_UNSUPPORTED]).toContain(r.error.code);
    }
  });
});
