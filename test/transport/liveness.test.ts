/**
 * Connection liveness (heartbeats): the check itself stepped with a manual clock, then real
 * loopback connections whose owners step doWork() on a manual clock (time never passes by
 * sleeping; only the bytes on the wire are waited for).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, ConnectionState, Liveness, LivenessVerdict, Reconnector, ReconnectorState, resolveConnectionOptions } from '../../src/transport/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode } from '../../src/util/errors.js';
import { until } from '../helpers/wait.js';
import { connectedPair, payload, type Pair } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('Liveness (the check, manual clock)', () => {
  const V = LivenessVerdict;

  it('silence past the timeout is DEAD, not a moment before', () => {
    const clock = new ManualClock();
    const l = new Liveness(500, 3000, clock);
    expect(l.check(false, false)).toBe(V.ALIVE); // starts the clocks
    for (let t = 100; t < 3000; t += 100) {
      clock.advanceMs(100);
      expect({ t, v: l.check(false, false) }).toEqual({ t, v: V.ALIVE });
    }
    clock.advanceMs(100);
    expect(l.check(false, false)).toBe(V.DEAD);
    expect(l.silenceMs).toBe(3000);
  });

  it('any received bytes keep it alive; heartbeats go out only after the interval without a send', () => {
    const clock = new ManualClock();
    const l = new Liveness(500, 3000, clock);
    l.check(false, true);
    const verdicts: string[] = [];
    for (let t = 100; t <= 10_000; t += 100) {
      clock.advanceMs(100);
      if (t % 2000 === 0) l.onReceived(); // the peer speaks every 2 s: under the timeout
      if (t > 5000) l.onSent(); // from 5 s on this side sends data itself: no heartbeat needed
      verdicts.push(l.check(false, true));
    }
    expect(verdicts).not.toContain(V.DEAD);
    const heartbeats = verdicts.map((v, i) => (v === V.HEARTBEAT ? (i + 1) * 100 : -1)).filter((t) => t > 0);
    expect(heartbeats).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
  });

  it('sends no heartbeat while it cannot (bytes still buffered) and one as soon as it can', () => {
    const clock = new ManualClock();
    const l = new Liveness(500, 3000, clock);
    l.check(false, true);
    clock.advanceMs(600);
    expect(l.check(false, false)).toBe(V.ALIVE);
    clock.advanceMs(100);
    l.onReceived();
    expect(l.check(false, true)).toBe(V.HEARTBEAT);
  });

  it('does not count silence while this side does not read (paused socket)', () => {
    const clock = new ManualClock();
    const l = new Liveness(500, 3000, clock);
    l.check(false, false);
    for (let t = 0; t < 100; t++) {
      clock.advanceMs(100);
      expect(l.check(true, false)).toBe(V.ALIVE);
    }
    // reading again: the timeout runs from the resume
    for (let t = 100; t < 3000; t += 100) {
      clock.advanceMs(100);
      expect(l.check(false, false)).toBe(V.ALIVE);
    }
    clock.advanceMs(100);
    expect(l.check(false, false)).toBe(V.DEAD);
  });

  it("a stall of this process does not condemn the peer: it gets one more interval of this side awake", () => {
    const clock = new ManualClock();
    const l = new Liveness(500, 3000, clock);
    l.check(false, false);
    clock.advanceMs(20_000); // a 20 s fsync: the peer's bytes may wait unread in the kernel
    expect(l.check(false, false)).toBe(V.ALIVE);
    clock.advanceMs(400);
    expect(l.check(false, false)).toBe(V.ALIVE);
    clock.advanceMs(100); // one interval awake after the stall and still nothing: dead
    expect(l.check(false, false)).toBe(V.DEAD);
    // ...unless the peer's bytes were there
    const l2 = new Liveness(500, 3000, clock);
    l2.check(false, false);
    clock.advanceMs(20_000);
    expect(l2.check(false, false)).toBe(V.ALIVE);
    l2.onReceived();
    for (let t = 0; t < 29; t++) {
      clock.advanceMs(100);
      expect(l2.check(false, false)).toBe(V.ALIVE);
    }
  });

  it('options: heartbeats are off by default; a timeout not above the interval is refused', () => {
    expect(resolveConnectionOptions({}).heartbeatIntervalMs).toBe(0);
    expect(resolveConnectionOptions({ heartbeatIntervalMs: 500 }).heartbeatTimeoutMs).toBe(3000);
    for (const bad of [{ heartbeatIntervalMs: -1 }, { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 500 }, { heartbeatTimeoutMs: 3000 }]) {
      expect(() => resolveConnectionOptions(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
  });
});

describe('Connection heartbeats over loopback (manual clock, real sockets)', () => {
  const HB = { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 3000 };

  async function pair(clock: ManualClock, server: object, client: object): Promise<Pair> {
    const p = await connectedPair({ ...server, clock }, { ...client, clock });
    cleanups.push(() => p.close());
    return p;
  }

  /** Advances the clock by `ms` in 100 ms steps, stepping doWork() on `steps` and letting every byte sent arrive. */
  async function run(clock: ManualClock, ms: number, p: Pair, steps: Connection[], each?: (t: number) => void): Promise<void> {
    for (let t = 100; t <= ms; t += 100) {
      clock.advanceMs(100);
      each?.(t);
      for (const c of steps) c.doWork();
      if (!p.client.isOpen || !p.accepted.isOpen) return;
      await until('bytes delivered', () => p.accepted.stats.bytesReceived === p.client.stats.bytesSent && p.client.stats.bytesReceived === p.accepted.stats.bytesSent);
    }
  }

  it('both sides idle but heartbeating stay open for as long as they run; heartbeats never reach poll', async () => {
    const clock = new ManualClock();
    const p = await pair(clock, HB, HB);
    await run(clock, 10_000, p, [p.client, p.accepted]);
    expect([p.client.state, p.accepted.state]).toEqual([ConnectionState.OPEN, ConnectionState.OPEN]);
    // ~one heartbeat per interval each way (12 bytes on the wire), and nothing for the owner
    expect(p.accepted.stats.bytesReceived).toBeGreaterThanOrEqual(19 * 12);
    expect(p.client.stats.bytesReceived).toBeGreaterThanOrEqual(19 * 12);
    const got: number[] = [];
    expect(p.client.poll((_b, _o, l) => got.push(l)) + p.accepted.poll((_b, _o, l) => got.push(l))).toBe(0);
    expect(got).toEqual([]);
  });

  it('a peer that sends nothing (no data, no heartbeat) is closed with TIMEOUT after heartbeatTimeoutMs', async () => {
    const clock = new ManualClock();
    const p = await pair(clock, HB, {}); // the client has no heartbeats: silent
    let t = 0;
    while (p.accepted.isOpen && t < 10_000) {
      clock.advanceMs(100);
      t += 100;
      p.accepted.doWork();
      await until('heartbeats delivered', () => !p.accepted.isOpen || p.client.stats.bytesReceived === p.accepted.stats.bytesSent);
    }
    expect(t).toBe(3100); // the first check (at 100 ms) starts the clocks
    expect(p.accepted.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(p.accepted.closeReason).toMatch(/heartbeat timeout/);
    // the silent side sees the connection go (it is aborted, not left half-open)
    await until('the client sees the close', () => p.client.state === ConnectionState.CLOSED);
  });

  it('traffic alone keeps a connection alive (a busy sender needs no heartbeats); the peer without heartbeats ignores the ones it gets', async () => {
    const clock = new ManualClock();
    const p = await pair(clock, HB, {});
    const got: number[] = [];
    await run(clock, 10_000, p, [p.accepted], (t) => {
      if (t % 1000 === 0) p.client.send(payload(t, 64));
      p.accepted.poll((b, o) => got.push(b.readUInt32LE(o)));
    });
    expect(p.accepted.state).toBe(ConnectionState.OPEN);
    expect(got.length).toBeGreaterThanOrEqual(9);
    expect(p.client.stats.bytesReceived).toBeGreaterThan(0); // heartbeats arrived...
    expect(p.client.poll(() => got.push(-1))).toBe(0); // ...and are not the owner's
  });
});

describe('Reconnector with heartbeats', () => {
  it('a connection to a peer that accepts and then says nothing goes down with TIMEOUT and is re-dialled', async () => {
    // a "blackholed" peer: the TCP handshake completes, then nothing ever comes back
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const clock = new ManualClock();
    const downs: (string | undefined)[] = [];
    const r = new Reconnector(`127.0.0.1:${port}`, {
      clock,
      connection: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 3000, clock },
      onDisconnected: (c) => downs.push(c.error?.code === ErrorCode.TIMEOUT ? 'TIMEOUT' : c.closeReason),
    });
    cleanups.push(() => r.close());
    await until('connected', () => {
      r.doWork();
      return r.state === ReconnectorState.CONNECTED;
    });
    let t = 0;
    while (downs.length === 0 && t < 10_000) {
      clock.advanceMs(100);
      t += 100;
      r.doWork();
    }
    expect({ t, downs }).toEqual({ t: 3100, downs: ['TIMEOUT'] }); // the clocks start at the first check after connect
    expect(r.error?.code).toBe(ErrorCode.TIMEOUT);
    expect(r.state).toBe(ReconnectorState.BACKOFF);
    clock.advanceMs(1000);
    await until('re-dialled', () => {
      r.doWork();
      return r.state === ReconnectorState.CONNECTED && r.connects === 2;
    });
  });
});
