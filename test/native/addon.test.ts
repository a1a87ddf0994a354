import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { NATIVE_MAX_BATCH, nativeDisabledByEnv, udpNative, udpNativeUnavailableReason, type UdpNative } from '../../src/util/udp-native.js';

/** The addon is built by `npm ci` (prepare); these tests need it unless VCR_UDP_NATIVE=0 says otherwise. */
const disabled = nativeDisabledByEnv();

function addon(): UdpNative {
  const n = udpNative();
  if (!n) throw new Error(`addon unavailable: ${udpNativeUnavailableReason()}`);
  return n;
}

const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) addon().close(fd);
});

function openReceiver(rcvbuf = 4 * 1024 * 1024): { fd: number; port: number } {
  const n = addon();
  const fd = n.open('127.0.0.1', 0, rcvbuf, null, null);
  fds.push(fd);
  return { fd, port: n.localPort(fd) };
}

async function dgramSend(port: number, payloads: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const p of payloads) await new Promise<void>((r, j) => s.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(r));
}

/** Receives until `count` datagrams came, waiting on the addon's own readiness watch between tries. */
async function receiveAll(fd: number, count: number, slot = 2048): Promise<Buffer[]> {
  const n = addon();
  const slab = Buffer.alloc(slot * 64);
  const lengths = new Int32Array(64);
  const out: Buffer[] = [];
  let wake: (() => void) | undefined;
  const w = n.watch(fd, () => wake?.());
  try {
    while (out.length < count) {
      const got = n.recvBatch(fd, slab, slot, 64, lengths);
      expect(got).toBeGreaterThanOrEqual(0);
      for (let i = 0; i < got; i++) out.push(Buffer.from(slab.subarray(i * slot, i * slot + lengths[i]!)));
      if (got === 0) {
        const ready = new Promise<void>((r) => (wake = r));
        n.arm(w);
        await ready;
      }
    }
  } finally {
    n.unwatch(w);
  }
  return out;
}

describe.runIf(!disabled)('native UDP addon', () => {
  it('loads (npm ci builds it)', () => {
    expect(udpNativeUnavailableReason()).toBeUndefined();
    expect(typeof addon().recvBatch).toBe('function');
  });

  it('receives a batch into slab slots and returns 0 once drained', async () => {
    const n = addon();
    const { fd, port } = openReceiver();
    const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`datagram-${i}`.repeat(i + 1)));
    await dgramSend(port, payloads);
    const slab = Buffer.alloc(1024 * 32);
    const lengths = new Int32Array(32);
    // the sends completed on loopback: all 10 wait in the socket, fewer than the 32 asked for
    const got = n.recvBatch(fd, slab, 1024, 32, lengths);
    expect(got).toBe(10);
    for (let i = 0; i < got; i++) expect(slab.toString('utf8', i * 1024, i * 1024 + lengths[i]!)).toBe(payloads[i]!.toString());
    expect(n.recvBatch(fd, slab, 1024, 32, lengths)).toBe(0);
  });

  it('reports the full length of a datagram longer than its slot (MSG_TRUNC)', async () => {
    const n = addon();
    const { fd, port } = openReceiver();
    await dgramSend(port, [Buffer.alloc(3000, 1), Buffer.from('small')]);
    const slab = Buffer.alloc(256 * 4);
    const lengths = new Int32Array(4);
    expect(n.recvBatch(fd, slab, 256, 4, lengths)).toBe(2);
    expect(lengths[0]).toBe(3000);
    expect(lengths[1]).toBe(5);
    expect(slab.toString('utf8', 256, 261)).toBe('small');
  });

  it('gives each datagram its age since the kernel stamped its arrival (SO_TIMESTAMPNS)', async () => {
    const n = addon();
    const { fd, port } = openReceiver();
    const slab = Buffer.alloc(64 * 4);
    const lengths = new Int32Array(4);
    const ages = new BigInt64Array(4);
    // the kernel turns arrival stamping on a moment after the first socket asks (until then a
    // datagram is stamped when it is read): probe until it is on
    await until('arrival stamps', async () => {
      await dgramSend(port, [Buffer.from('probe')]);
      const t = process.hrtime.bigint();
      while (process.hrtime.bigint() - t < 2_000_000n);
      return n.recvBatch(fd, slab, 64, 4, lengths, ages) === 1 && ages[0]! >= 1_000_000n;
    });
    await dgramSend(port, [Buffer.from('old')]);
    const start = process.hrtime.bigint();
    await until('4 ms to pass', () => process.hrtime.bigint() - start >= 4_000_000n, 1000, 1);
    await dgramSend(port, [Buffer.from('new')]);
    ages.fill(-2n);
    expect(n.recvBatch(fd, slab, 64, 4, lengths, ages)).toBe(2);
    // the first waited at least the 4 ms longer; neither is unstamped
    expect(ages[0]! - ages[1]! >= 4_000_000n).toBe(true);
    expect(ages[1]! >= 0n).toBe(true);
    expect(ages[2]).toBe(-2n); // untouched beyond the count
    expect(() => n.recvBatch(fd, slab, 64, 4, lengths, new Int32Array(4) as unknown as BigInt64Array)).toThrow();
  });

  it('the watch fires when data arrives after an idle period, once per arm', async () => {
    const { fd, port } = openReceiver();
    const first = receiveAll(fd, 3);
    await dgramSend(port, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    expect((await first).map(String)).toEqual(['a', 'b', 'c']);
    const second = receiveAll(fd, 1);
    await dgramSend(port, [Buffer.from('d')]);
    expect((await second).map(String)).toEqual(['d']);
  });

  it('sendBatch sends a slab of datagrams in order on a connected socket', async () => {
    const n = addon();
    const rx = openReceiver();
    const tx = n.openSender('127.0.0.1', rx.port, -1, null, 1024 * 1024);
    fds.push(tx);
    const count = 300;
    const slab = Buffer.alloc(count * 16);
    const offsets = new Int32Array(count);
    const lengths = new Int32Array(count);
    let off = 0;
    for (let i = 0; i < count; i++) {
      const len = slab.write(`e${i}`, off);
      offsets[i] = off;
      lengths[i] = len;
      off += len;
    }
    let sent = 0;
    while (sent < count) {
      const r = n.sendBatch(tx, slab, offsets, lengths, sent, count - sent);
      expect(r).toBeGreaterThanOrEqual(0);
      sent += r;
    }
    const got = await receiveAll(rx.fd, count);
    expect(got.map(String)).toEqual(Array.from({ length: count }, (_, i) => `e${i}`));
  });

  it('sends at most NATIVE_MAX_BATCH per call: the caller sends the rest next', async () => {
    const n = addon();
    const rx = openReceiver(8 * 1024 * 1024);
    const tx = n.openSender('127.0.0.1', rx.port, -1, null, 4 * 1024 * 1024);
    fds.push(tx);
    const count = NATIVE_MAX_BATCH + 100;
    const slab = Buffer.alloc(count * 4);
    const offsets = Int32Array.from({ length: count }, (_, i) => i * 4);
    const lengths = new Int32Array(count).fill(4);
    for (let i = 0; i < count; i++) slab.writeUInt32LE(i, i * 4);
    const r1 = n.sendBatch(tx, slab, offsets, lengths, 0, count);
    expect(r1).toBe(NATIVE_MAX_BATCH);
    const r2 = n.sendBatch(tx, slab, offsets, lengths, r1, count - r1);
    expect(r2).toBe(100);
    const got = await receiveAll(rx.fd, count);
    expect(got.map((b) => b.readUInt32LE(0))).toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('refuses bad arguments with an error instead of crashing', () => {
    const n = addon();
    const { fd } = openReceiver();
    expect(() => n.recvBatch(fd, 'x' as unknown as Buffer, 16, 1, new Int32Array(1))).toThrow();
    expect(() => n.open('not-an-ip', 0, 0, null, null)).toThrow();
    const slab = Buffer.alloc(8);
    expect(() => n.sendBatch(fd, slab, Int32Array.of(4), Int32Array.of(100), 0, 1)).toThrow();
    expect(() => n.sendBatch(fd, slab, Int32Array.of(0), Int32Array.of(1), 0, 2)).toThrow();
  });

  it('fails to bind a port in use with EADDRINUSE', () => {
    const n = addon();
    const { port } = openReceiver();
    let code: unknown;
    try {
      fds.push(n.open('127.0.0.1', port, 0, null, null));
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    expect(code).toBe('EADDRINUSE');
  });
});

describe('native UDP addon selection', () => {
  it('VCR_UDP_NATIVE=0 selects the dgram path', () => {
    expect(nativeDisabledByEnv({ VCR_UDP_NATIVE: '0' })).toBe(true);
    expect(nativeDisabledByEnv({ VCR_UDP_NATIVE: 'off' })).toBe(true);
    expect(nativeDisabledByEnv({ VCR_UDP_NATIVE: '1' })).toBe(false);
    expect(nativeDisabledByEnv({})).toBe(false);
  });
});
