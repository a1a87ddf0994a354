import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource, parseProcNetUdp, parseSourceUri, SourceState, UdpSource, type UdpSourceSpec } from '../../src/sources/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { nativeDisabledByEnv } from '../../src/util/udp-native.js';
import { collector, nextTick, pollUntil } from './helpers.js';

function udpSpec(uri: string): UdpSourceSpec {
  return parseSourceUri(uri) as UdpSourceSpec;
}

async function sendAll(port: number, host: string, payloads: Buffer[], multicastIface?: string): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, multicastIface ?? '127.0.0.1', r));
  if (multicastIface) s.setMulticastInterface(multicastIface);
  for (const p of payloads) await new Promise<void>((r, j) => s.send(p, port, host, (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(r));
}

describe('UdpSource unicast', () => {
  it('receives datagrams as events with receipt timestamps from the injected clocks', async () => {
    const clock = new ManualClock(5n, 1_700_000_000_000_000_000n);
    const src = createSource('udp://127.0.0.1:0', { nanoClock: clock, utcClock: clock }) as UdpSource;
    await src.open();
    expect(src.state).toBe(SourceState.ACTIVE);
    expect(src.localPort).toBeGreaterThan(0);
    expect(src.kernelDropsAvailable).toBe(true);
    const payloads = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(60_000, 7), Buffer.from('last')];
    await sendAll(src.localPort, '127.0.0.1', payloads);
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 4, { limit: 2 });
    expect(c.payloads.map((b) => b.toString('hex'))).toEqual(payloads.map((b) => b.toString('hex')));
    expect(src.counters.events).toBe(4);
    expect(src.counters.bytes).toBe(60_007);
    // the manual clocks stand still: each datagram is dated back from them by how long it waited
    // (native path) or stamped with them on arrival (dgram path)
    expect(c.mono[0]! <= 5n && c.mono[0]! > 5n - 60_000_000_000n).toBe(true);
    expect(c.utc[0]! - c.mono[0]!).toBe(1_700_000_000_000_000_000n - 5n);
    for (let i = 1; i < 4; i++) expect(c.mono[i]! >= c.mono[i - 1]!).toBe(true);
    expect(src.isEnded()).toBe(false);
    src.close();
    expect(src.isEnded()).toBe(true);
  });

  it('reports the URI it is bound to: port 0 replaced by the port the kernel chose', async () => {
    for (const native of [undefined, false]) {
      const src = new UdpSource(udpSpec('udp://localhost:0'), native === undefined ? {} : { native });
      expect(src.boundUri()).toBe('udp://127.0.0.1:0');
      await src.open();
      expect(src.localPort).toBeGreaterThan(0);
      expect(src.boundUri()).toBe(`udp://127.0.0.1:${src.localPort}`);
      src.close();
    }
    expect(createSource('file:///tmp/x?separator=%0A').boundUri()).toBe('file:///tmp/x?separator=%0A');
  });

  it('fails to bind a port in use with SOURCE_FAILED', async () => {
    const a = new UdpSource(udpSpec('udp://127.0.0.1:0'));
    await a.open();
    const b = new UdpSource(udpSpec(`udp://127.0.0.1:${a.localPort}`));
    const err = await b.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVcrError(err, ErrorCode.SOURCE_FAILED)).toBe(true);
    a.close();
  });

  it('drops and counts when its bounded queue is full instead of growing', async () => {
    const src = new UdpSource(udpSpec('udp://127.0.0.1:0'), { queueCapacity: 10, native: false });
    await src.open();
    await sendAll(
      src.localPort,
      '127.0.0.1',
      Array.from({ length: 30 }, (_, i) => Buffer.from(`m${i}`)),
    );
    // Not polled: let the socket callbacks run until all 30 arrived (queued or dropped).
    for (let i = 0; i < 100_000 && src.queued + src.counters.queueDrops < 30; i++) await nextTick();
    expect(src.queued).toBe(10);
    expect(src.counters.queueDrops).toBe(20);
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 10);
    expect(c.payloads.map(String)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    src.close();
  });

  it('reports datagrams the kernel dropped (from /proc/net/udp) while nobody read', async () => {
    const clock = new ManualClock();
    const src = new UdpSource(udpSpec('udp://127.0.0.1:0'), { recvBufferSize: 4096, nanoClock: clock, utcClock: clock });
    await src.open();
    // A separate process floods the port; spawnSync blocks this event loop meanwhile, so
    // nothing reads the socket and its small receive buffer overflows in the kernel.
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      const buf = Buffer.alloc(1000, 1);
      let left = 3000;
      for (let i = 0; i < 3000; i++) s.send(buf, ${src.localPort}, '127.0.0.1', () => { if (--left === 0) s.close(); });`;
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 20_000 });
    expect(r.status).toBe(0);
    let received = 0;
    await pollUntil(src, () => received++, () => src.counters.kernelDrops > 0, { clock, stepNs: 100_000_000n });
    // Every datagram was either received or dropped by the kernel.
    await pollUntil(src, () => received++, () => received + src.counters.kernelDrops >= 3000, { clock, stepNs: 100_000_000n });
    expect(src.counters.kernelDrops).toBeGreaterThan(0);
    expect(received + src.counters.kernelDrops).toBe(3000);
    src.close();
  });

  it('parses the drops column of /proc/net/udp', () => {
    const text = readFileSync('/proc/net/udp', 'latin1');
    expect(parseProcNetUdp(text).length).toBeGreaterThanOrEqual(0);
    const sample =
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n' +
      '  12: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n' +
      'garbage line\n';
    expect(parseProcNetUdp(sample)).toEqual([{ localPort: 8080, inode: 4242, drops: 17 }]);
  });
});

/** Multicast on loopback: enabled here and restored afterwards (we are root). */
describe('UdpSource multicast', () => {
  let addedRoute = false;
  let enabledMulticast = false;
  beforeAll(() => {
    const link = execFileSync('ip', ['link', 'show', 'lo'], { encoding: 'utf8' });
    if (!/[<,]MULTICAST[,>]/.test(link)) {
      execFileSync('ip', ['link', 'set', 'lo', 'multicast', 'on']);
      enabledMulticast = true;
    }
    const routes = execFileSync('ip', ['route', 'show', '224.0.0.0/4'], { encoding: 'utf8' });
    if (!routes.includes('224.0.0.0/4')) {
      execFileSync('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'lo']);
      addedRoute = true;
    }
  });
  afterAll(() => {
    if (addedRoute) execFileSync('ip', ['route', 'del', '224.0.0.0/4', 'dev', 'lo']);
    if (enabledMulticast) execFileSync('ip', ['link', 'set', 'lo', 'multicast', 'off']);
  });

  it('joins a group on the loopback interface and receives what is sent to it', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const src = createSource(`udp://239.255.77.1:${port}?interface=127.0.0.1`) as UdpSource;
    await src.open();
    const payloads = Array.from({ length: 5 }, (_, i) => Buffer.from(`mc-${i}`));
    await sendAll(port, '239.255.77.1', payloads, '127.0.0.1');
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 5);
    expect(c.payloads.map(String)).toEqual(payloads.map(String));
    expect(src.usesNative).toBe(!nativeDisabledByEnv());
    src.close();
  });

  it('receives multicast on both receive paths in the same run', async () => {
    for (const native of [false, true]) {
      if (native && nativeDisabledByEnv()) continue;
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const src = new UdpSource(udpSpec(`udp://239.255.77.2:${port}?interface=127.0.0.1`), { native });
      await src.open();
      expect(src.usesNative).toBe(native);
      const payloads = Array.from({ length: 5 }, (_, i) => Buffer.from(`mc-${native}-${i}`));
      await sendAll(port, '239.255.77.2', payloads, '127.0.0.1');
      const c = collector();
      await pollUntil(src, c.handler, () => c.payloads.length === 5);
      expect(c.payloads.map(String)).toEqual(payloads.map(String));
      src.close();
    }
  });
});
