/**
 * The pcap source on real files with a manual clock: events carry the capture's UTC times and
 * monotonic times of base + capture distance; ownStart() gives the recording that timeline;
 * --speed holds each datagram until the clock reaches its due time; a capture that breaks off
 * delivers every datagram before the break, then fails with CAPTURE_TRUNCATED; a file that is
 * not a capture is refused at open (no recording would be created).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSource, parseSourceUri, SourceState } from '../../src/sources/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode } from '../../src/util/errors.js';
import { removeTempDirs, tempDir } from '../helpers/wait.js';
import { ethernet, ipv4, pcapFile, udp } from '../support/capture-writer.js';
import { collector, nextTick, pollUntil } from './helpers.js';

afterAll(() => removeTempDirs());
const dir = tempDir('vcr-pcap-source-');
const T0 = 1_600_000_000_000_000_000n;
const GAPS = [0n, 2_000_000n, 500_000_000n, 1n];

function capture(name: string, payloads: string[], port = 7000): { path: string; bytes: Buffer } {
  let t = T0;
  const bytes = pcapFile(
    { endian: 'le', nano: true, linkType: 1 },
    payloads.map((p, i) => {
      t += GAPS[i % GAPS.length]!;
      return { tsNs: t, frame: ethernet(0x0800, ipv4('127.0.0.1', '127.0.0.1', udp(40000, i % 2 ? 9 : port, Buffer.from(p)))) };
    }),
  );
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('pcap:// source', () => {
  it('parses and canonicalises its URI', () => {
    const s = parseSourceUri('pcap:///tmp/a%20b.pcap?speed=2&port=5000&host=10.0.0.1');
    expect(s).toMatchObject({ kind: 'pcap', path: '/tmp/a b.pcap', speed: 2, filter: { port: 5000, host: '10.0.0.1' } });
    expect(s.uri).toBe('pcap:///tmp/a%20b.pcap?port=5000&host=10.0.0.1&speed=2');
    for (const bad of ['pcap://rel/path', 'pcap:///x?port=99999', 'pcap:///x?speed=-1', 'pcap:///x?host=name', 'pcap:///x?filter=udp']) {
      expect(() => parseSourceUri(bad), bad).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SOURCE }));
    }
  });

  it('dates events with the capture: UTC as captured, mono = base + capture distance', async () => {
    const { path } = capture('times.pcap', ['a', 'b', 'c', 'd', 'e']);
    const clock = new ManualClock(5_000_000_000n);
    const s = createSource(`pcap://${path}`, { nanoClock: clock, utcClock: clock });
    await s.open();
    expect(s.ownStart?.()).toEqual({ utcNs: T0, monoNs: 5_000_000_000n });
    const c = collector();
    await pollUntil(s, c.handler, () => s.isEnded());
    expect(s.state).toBe(SourceState.ENDED);
    expect(c.payloads.map(String)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const expectedUtc = [T0, T0 + 2_000_000n, T0 + 502_000_000n, T0 + 502_000_001n, T0 + 502_000_001n];
    expect(c.utc).toEqual(expectedUtc);
    expect(c.mono).toEqual(expectedUtc.map((u) => 5_000_000_000n + (u - T0)));
  });

  it('filters by port', async () => {
    const { path } = capture('filter.pcap', ['a', 'b', 'c', 'd']);
    const s = createSource(`pcap://${path}?dstPort=7000`);
    await s.open();
    const c = collector();
    await pollUntil(s, c.handler, () => s.isEnded());
    expect(c.payloads.map(String)).toEqual(['a', 'c']);
  });

  it('with speed X, hands each datagram out when the clock reaches base + distance / X', async () => {
    const { path } = capture('paced.pcap', ['a', 'b', 'c']);
    const clock = new ManualClock(1_000n);
    const s = createSource(`pcap://${path}?speed=2`, { nanoClock: clock, utcClock: clock });
    await s.open();
    const c = collector();
    expect(s.poll(c.handler, 10)).toBe(1); // 'a' is due at once
    await nextTick();
    expect(s.poll(c.handler, 10)).toBe(0);
    clock.advanceNs(999_999n); // 'b' is 2 ms later in the capture: due after 1 ms at speed 2
    await nextTick();
    expect(s.poll(c.handler, 10)).toBe(0);
    clock.advanceNs(1n);
    expect(s.poll(c.handler, 10)).toBe(1);
    clock.advanceNs(249_999_999n); // 'c' is 500 ms after 'b': 250 ms
    expect(s.poll(c.handler, 10)).toBe(0);
    clock.advanceNs(1n);
    expect(s.poll(c.handler, 10)).toBe(1);
    // recorded times do not depend on the speed
    expect(c.mono).toEqual([1_000n, 1_000n + 2_000_000n, 1_000n + 502_000_000n]);
    await pollUntil(s, c.handler, () => s.isEnded());
    expect(c.payloads.map(String)).toEqual(['a', 'b', 'c']);
  });

  it('a truncated capture delivers what was read, then fails with CAPTURE_TRUNCATED', async () => {
    const payloads = Array.from({ length: 3000 }, (_, i) => `event ${i} ${'x'.repeat(i % 200)}`);
    const { bytes } = capture('whole.pcap', payloads);
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    const s = createSource(`pcap://${path}`, { pcap: { chunkSize: 4096 } });
    await s.open();
    const c = collector();
    await pollUntil(s, c.handler, () => s.isEnded());
    expect(s.state).toBe(SourceState.FAILED);
    expect(s.lastError).toMatchObject({ code: ErrorCode.CAPTURE_TRUNCATED });
    expect(c.payloads.map(String)).toEqual(payloads.slice(0, -1));
  });

  it('refuses at open what is not a capture, or cannot be read', async () => {
    const notCapture = join(dir, 'text.txt');
    writeFileSync(notCapture, 'just some text\n');
    await expect(createSource(`pcap://${notCapture}`).open()).rejects.toMatchObject({ code: ErrorCode.CAPTURE_INVALID });
    await expect(createSource(`pcap://${join(dir, 'missing.pcap')}`).open()).rejects.toMatchObject({ code: ErrorCode.SOURCE_FAILED });
    await expect(createSource(`pcap://${dir}`).open()).rejects.toMatchObject({ code: ErrorCode.SOURCE_FAILED }); // a directory
  });
});
