/**
 * Replay sending through the native batch path: UdpSender queues into a slab and sends with
 * sendmmsg on flush; ReplaySession flushes once per duty cycle. Real storage, real sockets.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReplaySession } from '../../src/archiver/replay-session.js';
import { StorageBinding } from '../../src/archiver/storage-binding.js';
import { NativeSendQueue, UdpSender, parseUdpEndpoint } from '../../src/archiver/udp-endpoint.js';
import { ManualClock } from '../../src/util/clock.js';
import { nativeDisabledByEnv, udpNative, type UdpNative } from '../../src/util/udp-native.js';
import { removeDir, tempDir } from '../archiver/support.js';

/** A native receiver draining into a list, woken by the addon's readiness watch. */
function receiver(n: UdpNative): { port: number; got: Buffer[]; until: (count: number) => Promise<void>; close: () => void } {
  const fd = n.open('127.0.0.1', 0, 16 * 1024 * 1024, null, null);
  const slot = 65_536;
  const slab = Buffer.alloc(slot * 64);
  const lengths = new Int32Array(64);
  const got: Buffer[] = [];
  let wake: (() => void) | undefined;
  const w = n.watch(fd, () => wake?.());
  const drain = (): number => {
    let total = 0;
    for (;;) {
      const r = n.recvBatch(fd, slab, slot, 64, lengths);
      if (r <= 0) return total;
      for (let i = 0; i < r; i++) got.push(Buffer.from(slab.subarray(i * slot, i * slot + lengths[i]!)));
      total += r;
    }
  };
  return {
    port: n.localPort(fd),
    got,
    async until(count) {
      while (got.length < count) {
        if (drain() > 0) continue;
        const ready = new Promise<void>((r) => (wake = r));
        n.arm(w);
        await ready;
      }
    },
    close() {
      n.unwatch(w);
      n.close(fd);
    },
  };
}

describe.runIf(!nativeDisabledByEnv())('native replay sending', () => {
  const n = udpNative()!;
  let rx: ReturnType<typeof receiver>;
  beforeEach(() => {
    rx = receiver(n);
  });
  afterEach(() => rx.close());

  it('UdpSender queues sends and a flush sends them in order with few syscalls', async () => {
    const sender = new UdpSender(parseUdpEndpoint(`udp://127.0.0.1:${rx.port}`));
    const count = 2000;
    for (let i = 0; i < count; i++) sender.send(Buffer.from(`s${i}`), rx.port, '127.0.0.1');
    expect(sender.usesNative).toBe(true);
    // full batches went during send(); the rest waits for flush
    expect(sender.inFlight).toBe(count % 512);
    sender.flush();
    expect(sender.inFlight).toBe(0);
    await rx.until(count);
    expect(rx.got.map(String)).toEqual(Array.from({ length: count }, (_, i) => `s${i}`));
    expect(sender.errors).toBe(0);
    sender.close();
  });

  it('a queue grows for large datagrams and keeps their order across partial flushes', async () => {
    const fd = n.openSender('127.0.0.1', rx.port, -1, null, 4 * 1024 * 1024);
    let errors = 0;
    const q = new NativeSendQueue(n, fd, (k) => (errors += k));
    const sizes = Array.from({ length: 40 }, (_, i) => 30_000 + i * 500); // ~1.6 MB > the 1 MiB first slab
    for (const [i, size] of sizes.entries()) q.push(Buffer.alloc(size, i));
    expect(q.pending).toBe(40);
    let sent = 0;
    while (q.pending > 0) {
      sent += q.flush();
      if (q.pending > 0) await rx.until(sent); // socket buffer full: let the receiver drain
    }
    expect(sent).toBe(40);
    await rx.until(40);
    expect(rx.got.map((b) => [b.length, b[0]])).toEqual(sizes.map((s, i) => [s, i]));
    expect(errors).toBe(0);
    q.close();
  });

  it('the sender stays usable after close() until its queue is sent', async () => {
    const sender = new UdpSender(parseUdpEndpoint(`udp://127.0.0.1:${rx.port}`));
    for (let i = 0; i < 10; i++) sender.send(Buffer.from(`c${i}`), rx.port, '127.0.0.1');
    expect(sender.inFlight).toBe(10);
    sender.close(); // no flush by the caller: the scheduled flush sends them
    await rx.until(10);
    expect(rx.got.map(String)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
  });

  it('a destination nobody listens on costs counted errors, never a stuck queue', () => {
    const probe = n.open('127.0.0.1', 0, 0, null, null);
    const port = n.localPort(probe);
    n.close(probe);
    const sender = new UdpSender(parseUdpEndpoint(`udp://127.0.0.1:${port}`));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) sender.send(Buffer.from(`x${i}`), port, '127.0.0.1');
      sender.flush();
      expect(sender.inFlight).toBe(0);
    }
    // loopback reports the ICMP port-unreachable at once: later batches see ECONNREFUSED
    expect(sender.errors).toBeGreaterThan(0);
    expect(sender.errors).toBeLessThan(30);
    sender.close();
  });

  describe('ReplaySession', () => {
    let dir: string;
    let store: StorageBinding;
    const clock = new ManualClock(1_000_000_000n);
    beforeEach(() => {
      dir = tempDir();
      store = StorageBinding.open(dir, {});
    });
    afterEach(() => {
      store.close();
      removeDir(dir);
    });

    function record(channel: string, monos: bigint[]): number {
      const w = store.createRecording({ channel, aliases: [], source: 'test', startUtcNs: clock.epochNanos(), startMonoNs: 0n });
      for (const [i, m] of monos.entries()) w.append(Buffer.from(`${channel}${i}`), 0, channel.length + String(i).length, 1_700_000_000_000_000_000n + m, m);
      w.stop(clock.epochNanos());
      return w.recordingId;
    }

    function replay(recordingId: number, speed: number, sender: UdpSender): ReplaySession {
      const ep = parseUdpEndpoint(`udp://127.0.0.1:${rx.port}`);
      return new ReplaySession(
        1,
        [{ recordingId, reader: store.openReader(recordingId, 0, false), destination: ep, sender, endPosition: Infinity }],
        { speed, follow: false, toUtcNs: null, batchLimit: 256 },
        () => clock.nanoTime(),
      );
    }

    it('at speed 0 sends each duty cycle as one batch, everything in order', async () => {
      const id = record('f', Array.from({ length: 1000 }, (_, i) => BigInt(i)));
      const sender = new UdpSender(undefined);
      const session = replay(id, 0, sender);
      expect(session.doWork()).toBe(256);
      // the whole duty cycle left in this doWork(): nothing waits in the sender
      expect(sender.inFlight).toBe(0);
      expect(sender.usesNative).toBe(true);
      for (let i = 0; i < 10 && !session.isDone(); i++) session.doWork();
      expect(session.isDone()).toBe(true);
      expect(session.eventsSent).toBe(1000);
      await rx.until(1000);
      expect(rx.got.map(String)).toEqual(Array.from({ length: 1000 }, (_, i) => `f${i}`));
    });

    it('at speed > 0 sends only the events that are due in each duty cycle', async () => {
      const id = record('p', [0n, 1_000_000n, 2_000_000n, 10_000_000n]);
      const session = replay(id, 1, new UdpSender(undefined));
      expect(session.doWork()).toBe(1);
      clock.advanceNs(2_000_000n);
      expect(session.doWork()).toBe(2);
      await rx.until(3);
      expect(rx.got.map(String)).toEqual(['p0', 'p1', 'p2']);
      clock.advanceNs(7_999_999n);
      expect(session.doWork()).toBe(0);
      expect(session.eventsSent).toBe(3);
      clock.advanceNs(1n);
      session.doWork(); // sends p3, then finds the recording's end
      expect(session.eventsSent).toBe(4);
      expect(session.isDone()).toBe(true);
      await rx.until(4);
      expect(rx.got.map(String)).toEqual(['p0', 'p1', 'p2', 'p3']);
    });
  });
});
