/**
 * UdpSource on the native batched path (the default when the addon loads), compared with the
 * dgram path in the same run. Real sockets on 127.0.0.1.
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseSourceUri, UdpSource, type UdpSourceSpec } from '../../src/sources/index.js';
import { nativeDisabledByEnv } from '../../src/util/udp-native.js';
import { collector, nextTick, pollUntil } from './helpers.js';

const spec = (uri = 'udp://127.0.0.1:0') => parseSourceUri(uri) as UdpSourceSpec;

async function sendAll(port: number, payloads: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const p of payloads) await new Promise<void>((r, j) => s.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(r));
}

describe.runIf(!nativeDisabledByEnv())('UdpSource native batched receive', () => {
  it('uses the addon by default and the dgram path when asked, with the same events', async () => {
    const payloads = Array.from({ length: 20 }, (_, i) => Buffer.from(`same-${i}`));
    const got: string[][] = [];
    for (const native of [undefined, false]) {
      const src = new UdpSource(spec(), native === undefined ? {} : { native });
      await src.open();
      expect(src.usesNative).toBe(native === undefined);
      await sendAll(src.localPort, payloads);
      const c = collector();
      await pollUntil(src, c.handler, () => c.payloads.length === 20);
      got.push(c.payloads.map(String));
      expect(src.counters.events).toBe(20);
      src.close();
    }
    expect(got[0]).toEqual(payloads.map(String));
    expect(got[1]).toEqual(got[0]);
  });

  it('drains more datagrams than one batch and one poll limit, in order, within the limit per poll', async () => {
    const src = new UdpSource(spec(), { native: true, batchSize: 64, recvBufferSize: 8 * 1024 * 1024 });
    await src.open();
    const n = 1000;
    await sendAll(src.localPort, Array.from({ length: n }, (_, i) => Buffer.from(`n${i}`)));
    const c = collector();
    let maxPerPoll = 0;
    for (let round = 0; round < 1000 && c.payloads.length < n; round++) {
      maxPerPoll = Math.max(maxPerPoll, src.poll(c.handler, 150));
      await nextTick();
    }
    expect(c.payloads.map(String)).toEqual(Array.from({ length: n }, (_, i) => `n${i}`));
    expect(maxPerPoll).toBe(150);
    expect(src.counters.kernelDrops).toBe(0);
    src.close();
  });

  it('counts and skips a datagram longer than its slot (MSG_TRUNC), keeping the others', async () => {
    const src = new UdpSource(spec(), { native: true, slotSize: 1024 });
    await src.open();
    await sendAll(src.localPort, [Buffer.from('before'), Buffer.alloc(5000, 9), Buffer.alloc(1024, 1), Buffer.from('after')]);
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 3);
    expect(src.counters.oversize).toBe(1);
    expect(c.payloads.map((b) => b.length)).toEqual([6, 1024, 5]);
    expect(src.counters.events).toBe(3);
    expect(src.counters.bytes).toBe(6 + 1024 + 5);
    src.close();
  });

  it('calls onAvailable when datagrams arrive after it was drained (no spinning needed)', async () => {
    const src = new UdpSource(spec(), { native: true });
    await src.open();
    let wakes = 0;
    let resolveWake: (() => void) | undefined;
    src.onAvailable = () => {
      wakes++;
      resolveWake?.();
    };
    const c = collector();
    for (let round = 0; round < 3; round++) {
      expect(src.poll(c.handler, 10)).toBe(0); // drained: re-arms the watch
      const woken = new Promise<void>((r) => (resolveWake = r));
      await sendAll(src.localPort, [Buffer.from(`w${round}`)]);
      await woken;
      expect(src.poll(c.handler, 10)).toBe(1);
    }
    expect(wakes).toBe(3);
    expect(c.payloads.map(String)).toEqual(['w0', 'w1', 'w2']);
    src.close();
  });

  it('releases its port on close', async () => {
    const a = new UdpSource(spec(), { native: true });
    await a.open();
    const port = a.localPort;
    a.close();
    expect(a.isEnded()).toBe(true);
    expect(a.poll(() => {}, 10)).toBe(0);
    const b = new UdpSource(spec(`udp://127.0.0.1:${port}`), { native: true });
    await b.open();
    expect(b.localPort).toBe(port);
    b.close();
  });
});
