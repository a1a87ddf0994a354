/**
 * Every UDP event carries its datagram's source address and port, on both receive paths (the
 * native recvmmsg path reads msg_name, the dgram path rinfo), for IPv4 and IPv6; a dual-stack
 * socket's IPv4-mapped senders come out as IPv4. Real sockets on the loopback interface.
 */
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseSourceUri, SourceEventFlags, UdpSource, type UdpSourceSpec } from '../../src/sources/index.js';
import { nativeDisabledByEnv } from '../../src/util/udp-native.js';
import { collector, pollUntil } from './helpers.js';

const spec = (uri: string) => parseSourceUri(uri) as UdpSourceSpec;

/** A sender bound to its own port, so the expected source port is known. */
async function sender(type: 'udp4' | 'udp6', address: string): Promise<{ port: number; send: (b: Buffer, port: number, to: string) => Promise<void>; close: () => Promise<void> }> {
  const s = dgram.createSocket(type);
  await new Promise<void>((r) => s.bind(0, address, r));
  return {
    port: s.address().port,
    send: (b, port, to) => new Promise<void>((r, j) => s.send(b, port, to, (e) => (e ? j(e) : r()))),
    close: () => new Promise<void>((r) => s.close(r)),
  };
}

const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.address === '::1'));

describe('UdpSource source addresses', () => {
  for (const native of nativeDisabledByEnv() ? [false] : [true, false]) {
    it(`IPv4, ${native ? 'native recvmmsg' : 'dgram'} path: each event has its sender's address and port`, async () => {
      const src = new UdpSource(spec('udp://127.0.0.1:0'), { native });
      await src.open();
      expect(src.usesNative).toBe(native);
      const a = await sender('udp4', '127.0.0.1');
      const b = await sender('udp4', '127.0.0.2');
      await a.send(Buffer.from('a1'), src.localPort, '127.0.0.1');
      await b.send(Buffer.from('b1'), src.localPort, '127.0.0.1');
      await a.send(Buffer.from('a2'), src.localPort, '127.0.0.1');
      const c = collector();
      await pollUntil(src, c.handler, () => c.payloads.length === 3);
      expect(c.payloads.map(String)).toEqual(['a1', 'b1', 'a2']);
      expect(c.flags).toEqual([SourceEventFlags.SOURCE_IPV4, SourceEventFlags.SOURCE_IPV4, SourceEventFlags.SOURCE_IPV4]);
      expect(c.sources).toEqual([
        { address: '127.0.0.1', port: a.port },
        { address: '127.0.0.2', port: b.port },
        { address: '127.0.0.1', port: a.port },
      ]);
      await a.close();
      await b.close();
      src.close();
    });
  }

  it.runIf(hasIpv6Loopback)('IPv6 (dgram path): the 16-byte address and port; a dual-stack socket reports IPv4 senders as IPv4', async () => {
    const src = new UdpSource(spec('udp://[::]:0'));
    await src.open();
    const v6 = await sender('udp6', '::1');
    const v4 = await sender('udp4', '127.0.0.1');
    await v6.send(Buffer.from('six'), src.localPort, '::1');
    await v4.send(Buffer.from('four'), src.localPort, '127.0.0.1');
    const c = collector();
    await pollUntil(src, c.handler, () => c.payloads.length === 2);
    expect(c.payloads.map(String)).toEqual(['six', 'four']);
    expect(c.flags).toEqual([SourceEventFlags.SOURCE_IPV6, SourceEventFlags.SOURCE_IPV4]);
    expect(c.sources).toEqual([
      { address: '::1', port: v6.port },
      { address: '127.0.0.1', port: v4.port },
    ]);
    await v6.close();
    await v4.close();
    src.close();
  });
});
