import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { Connection, ConnectionState, Reconnector, ReconnectorState, TransportServer, TransportServerState } from '../../src/transport/index.js';
import { until } from '../helpers/wait.js';
import { checkPayload, payload, pollUntil, rawConnect } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function listening(endpoint = '127.0.0.1:0', options = {}): Promise<TransportServer> {
  const s = new TransportServer(endpoint, options);
  await s.listen();
  cleanups.push(() => s.close());
  return s;
}

describe('TransportServer', () => {
  it('binds port 0 to a free port and reports it; accepts tcp://HOST:PORT too', async () => {
    const a = await listening('127.0.0.1:0');
    expect(a.state).toBe(TransportServerState.LISTENING);
    expect(a.port).toBeGreaterThan(0);
    expect(a.address).toBe(`127.0.0.1:${a.port}`);
    const b = await listening('tcp://localhost:0');
    expect(b.port).toBeGreaterThan(0);
    expect(b.port).not.toBe(a.port);
  });

  it('refuses a bad endpoint with INVALID_ARGUMENT, and a port in use with IO_ERROR', async () => {
    for (const bad of ['udp://127.0.0.1:5', 'example.com:80', '127.0.0.1', '127.0.0.1:70000']) {
      expect(() => new TransportServer(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
    const a = await listening();
    const b = new TransportServer(`127.0.0.1:${a.port}`);
    const err = await b.listen().then(() => undefined, (e: unknown) => e);
    expect(isVcrError(err, ErrorCode.IO_ERROR)).toBe(true);
    expect(b.state).toBe(TransportServerState.CLOSED);
  });

  it('refuses bad connection options at construction', () => {
    expect(() => new TransportServer('127.0.0.1:0', { connection: { highWaterMark: 0 } })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new TransportServer('127.0.0.1:0', { connection: { highWaterMark: 10, lowWaterMark: 10 } })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });

  it('bounds connections waiting for poll(): beyond maxPending they are closed and counted', async () => {
    const s = await listening('127.0.0.1:0', { maxPending: 2 });
    const raws = await Promise.all([0, 1, 2, 3].map(() => rawConnect(s.port)));
    for (const r of raws) r.on('error', () => {});
    cleanups.push(() => raws.forEach((r) => r.destroy()));
    await until('four connects seen', () => s.accepted + s.refused === 4);
    expect(s.accepted).toBe(2);
    expect(s.refused).toBe(2);
    const taken: Connection[] = [];
    expect(s.poll((c) => taken.push(c), 1)).toBe(1);
    expect(s.poll((c) => taken.push(c))).toBe(1);
    expect(taken.every((c) => c.isOpen)).toBe(true);
    taken.forEach((c) => c.abort('done'));
  });

  it('close() stops listening and aborts connections nobody took', async () => {
    const s = await listening();
    const raw = await rawConnect(s.port);
    const closed = new Promise<void>((r) => raw.on('close', () => r()));
    raw.on('error', () => {});
    await until('accepted', () => s.pendingCount === 1);
    s.close();
    await closed;
    const err = await rawConnect(s.port).then(
      (r) => (r.destroy(), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
  });
});

describe('Connection.connect', () => {
  it('is CONNECTING until the handshake completes (nothing can be sent), then OPEN', async () => {
    const s = await listening();
    const c = Connection.connect('127.0.0.1', s.port);
    cleanups.push(() => c.abort('done'));
    expect(c.state).toBe(ConnectionState.CONNECTING);
    expect(c.writable).toBe(false);
    expect(c.send(payload(1, 8))).toBe(false);
    await until('open', () => c.isOpen);
    expect(c.remotePort).toBe(s.port);
    expect(c.send(payload(1, 8))).toBe(true);
  });

  it('a refused connect ends CLOSED with IO_ERROR', async () => {
    const s = await listening();
    const port = s.port;
    s.close();
    const c = Connection.connect('127.0.0.1', port);
    await until('closed', () => c.state === ConnectionState.CLOSED);
    expect(isVcrError(c.error, ErrorCode.IO_ERROR)).toBe(true);
  });
});

describe('Reconnector', () => {
  it('connects, calls onConnected from doWork, and carries frames', async () => {
    const s = await listening();
    const clock = new ManualClock();
    const seen: Connection[] = [];
    const r = new Reconnector(`tcp://127.0.0.1:${s.port}`, { clock, onConnected: (c) => seen.push(c) });
    cleanups.push(() => r.close());
    expect(r.state).toBe(ReconnectorState.CONNECTING);
    await until('connected', () => (r.doWork(), r.state === ReconnectorState.CONNECTED));
    expect(seen).toHaveLength(1);
    expect(r.connection).toBe(seen[0]);
    let accepted: Connection | undefined;
    await until('accepted', () => s.poll((c) => (accepted = c)) > 0);
    r.connection!.send(payload(9, 50));
    const got: number[] = [];
    await pollUntil('frame', accepted!, (b, o, l) => got.push(checkPayload(b, o, l)), () => got.length === 1);
    expect(got).toEqual([9]);
    accepted!.abort('done');
  });

  it('backs off exponentially (capped) while the server is down and reconnects after it restarts on the same port', async () => {
    const first = await listening();
    const port = first.port;
    const clock = new ManualClock();
    let connects = 0;
    const disconnected: Connection[] = [];
    const r = new Reconnector(`127.0.0.1:${port}`, {
      clock,
      initialBackoffMs: 100,
      maxBackoffMs: 400,
      stableAfterMs: 1000,
      onConnected: () => connects++,
      onDisconnected: (c) => disconnected.push(c),
    });
    cleanups.push(() => r.close());
    await until('connected', () => (r.doWork(), r.state === ReconnectorState.CONNECTED));
    let accepted: Connection | undefined;
    await until('accepted', () => first.poll((c) => (accepted = c)) > 0);
    accepted!.send(payload(1, 20));
    clock.advanceMs(2000); // the connection has been up long enough to count as stable
    // the server goes away
    await until('frame arrived', () => r.connection!.inboundFrames === 1);
    first.close();
    accepted!.abort('server restart');
    await until('disconnect noticed', () => (r.doWork(), r.state === ReconnectorState.BACKOFF));
    expect(disconnected).toHaveLength(1);
    expect(disconnected[0]!.inboundFrames).toBe(1); // its last frames were still there for the owner
    expect(r.nextAttemptNs - clock.nanoTime()).toBe(100_000_000n);
    // each refused attempt doubles the delay up to the cap
    const delays: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      expect(r.doWork()).toBe(0); // still waiting
      clock.advanceNs(r.nextAttemptNs - clock.nanoTime());
      r.doWork();
      expect(r.state).toBe(ReconnectorState.CONNECTING);
      await until('refused', () => (r.doWork(), r.state === ReconnectorState.BACKOFF));
      expect(isVcrError(r.error, ErrorCode.IO_ERROR)).toBe(true);
      delays.push(r.nextAttemptNs - clock.nanoTime());
    }
    expect(delays).toEqual([200_000_000n, 400_000_000n, 400_000_000n, 400_000_000n]);
    expect(r.failedAttempts).toBe(4);
    // the server comes back on the same port
    const second = await listening(`127.0.0.1:${port}`);
    clock.advanceNs(r.nextAttemptNs - clock.nanoTime());
    await until('reconnected', () => (r.doWork(), r.state === ReconnectorState.CONNECTED));
    expect(connects).toBe(2);
    expect(r.connects).toBe(2);
    await until('accepted again', () => second.poll((c) => c.abort('done')) > 0);
  });

  it('a connection dropped right after it opened counts as a failed attempt', async () => {
    const s = await listening();
    const clock = new ManualClock();
    const r = new Reconnector(`127.0.0.1:${s.port}`, { clock, initialBackoffMs: 100, maxBackoffMs: 10_000, stableAfterMs: 1000 });
    cleanups.push(() => r.close());
    for (let round = 0; round < 3; round++) {
      await until('connected', () => (r.doWork(), r.state === ReconnectorState.CONNECTED));
      await until('accepted', () => s.poll((c) => c.abort('go away')) > 0);
      await until('dropped', () => (r.doWork(), r.state === ReconnectorState.BACKOFF));
      expect(r.nextAttemptNs - clock.nanoTime()).toBe(BigInt(100_000_000 * 2 ** (round + 1)));
      clock.advanceNs(r.nextAttemptNs - clock.nanoTime());
      r.doWork();
    }
  });

  it('times a connect out with TIMEOUT on the injected clock, and gives up after maxAttempts', async () => {
    const s = await listening();
    const clock = new ManualClock();
    const r = new Reconnector(`127.0.0.1:${s.port}`, { clock, connectTimeoutMs: 50, maxAttempts: 1 });
    cleanups.push(() => r.close());
    r.doWork(); // starts the connect; it cannot complete before this test yields
    expect(r.state).toBe(ReconnectorState.CONNECTING);
    clock.advanceMs(50);
    r.doWork();
    expect(isVcrError(r.error, ErrorCode.TIMEOUT)).toBe(true);
    expect(r.state).toBe(ReconnectorState.CLOSED);
    expect(r.doWork()).toBe(0);
  });

  it('close() closes the connection and stops reconnecting', async () => {
    const s = await listening();
    const r = new Reconnector(`127.0.0.1:${s.port}`);
    await until('connected', () => (r.doWork(), r.state === ReconnectorState.CONNECTED));
    const c = r.connection!;
    r.close();
    expect(r.state).toBe(ReconnectorState.CLOSED);
    expect(r.connection).toBeUndefined();
    expect(c.state).not.toBe(ConnectionState.OPEN);
    expect(r.doWork()).toBe(0);
  });

  it('refuses a bad endpoint or bad options with INVALID_ARGUMENT', () => {
    expect(() => new Reconnector('nowhere')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new Reconnector('127.0.0.1:0')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new Reconnector('127.0.0.1:1', { jitter: 2 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => new Reconnector('127.0.0.1:1', { initialBackoffMs: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
