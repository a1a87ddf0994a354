/**
 * The conductor stepped by hand with a ManualClock: session keep-alive and timeout, progress
 * notifications on their interval and only when something changed, and replay pacing by
 * recorded monotonic time and speed. Real storage in a temp dir, real UDP sockets; time only
 * moves when the test moves it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/archiver/archiver-config.js';
import { ArchiverConductor } from '../../src/archiver/archiver-conductor.js';
import { ArchiverCounters } from '../../src/archiver/archiver-counters.js';
import type { ConnectRequest, SessionRequest } from '../../src/archiver/control-requests.js';
import type { EventSourcePort, SourceFactory } from '../../src/archiver/ports.js';
import { ControlResponseProxy } from '../../src/archiver/control-response-proxy.js';
import { ControlSessions } from '../../src/archiver/control-sessions.js';
import { ControlRequestProxy } from '../../src/client/control-request-proxy.js';
import { NotificationProxy } from '../../src/archiver/notification-proxy.js';
import { ReplaySession } from '../../src/archiver/replay-session.js';
import { SourceBinding } from '../../src/archiver/source-binding.js';
import { StorageBinding } from '../../src/archiver/storage-binding.js';
import { UdpSender, parseUdpEndpoint } from '../../src/archiver/udp-endpoint.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode } from '../../src/util/errors.js';
import { decodeProgress, decodeResponse, decodeStopped, removeDir, tempDir, templateOf, until } from './support.js';

const silent = { info() {}, warn() {}, error() {} };

async function udpReceiver(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, got };
}

describe('ArchiverConductor with a manual clock', () => {
  let dir: string;
  let clock: ManualClock;
  let store: StorageBinding;
  let conductor: ArchiverConductor;
  let client: Awaited<ReturnType<typeof udpReceiver>>;
  let sender: UdpSender;

  let counters: ArchiverCounters;
  let notifications: NotificationProxy;

  /** A conductor over real storage and sockets; `sources` may wrap the real ones to inject faults. */
  function makeConductor(sources: SourceFactory = new SourceBinding(clock, clock, () => {})): ArchiverConductor {
    const config = { ...defaultConfig(dir), progressIntervalMs: 1000 };
    const sessions = new ControlSessions(config.limits);
    counters = new ArchiverCounters();
    notifications = new NotificationProxy(sender, () => sessions.values());
    return new ArchiverConductor({
      config,
      store,
      sources,
      sessions,
      sender,
      responses: new ControlResponseProxy(),
      notifications,
      counters,
      clock: { nanoTime: () => clock.nanoTime(), epochNanos: () => clock.epochNanos() },
      log: silent,
      createReplaySender: (ep) => new UdpSender(ep),
    });
  }

  beforeEach(async () => {
    dir = tempDir();
    clock = new ManualClock(1_000_000_000n);
    store = StorageBinding.open(dir, {});
    client = await udpReceiver();
    sender = new UdpSender();
    conductor = makeConductor();
  });

  afterEach(() => {
    conductor.onClose();
    store.close();
    client.socket.close();
    sender.close();
    removeDir(dir);
  });

  const connect = (keepAliveTimeoutMs: number, correlationId = 1n): void => {
    const r: ConnectRequest = { type: 'connect', correlationId, responseStreamVersion: 1, keepAliveTimeoutMs, responseChannel: '', clientName: 't' };
    conductor.onRequest(r, { host: '127.0.0.1', port: client.port }, 'connect');
  };
  const request = (r: SessionRequest): void => conductor.onRequest(r, { host: '127.0.0.1', port: client.port }, `${r.type}:${r.correlationId}`);
  const responses = () => client.got.filter((m) => templateOf(m) === 100).map(decodeResponse);

  it('closes a session that sends nothing for its keep-alive timeout, and not before', async () => {
    connect(1000);
    connect(1000); // the same connect again: the same session, not a second one
    expect(conductor.sessions.size).toBe(1);
    const id = [...conductor.sessions.values()][0]!.sessionId;
    clock.advanceMs(900);
    conductor.doWork();
    request({ type: 'keepAlive', controlSessionId: id, correlationId: 2n });
    clock.advanceMs(900);
    conductor.doWork();
    expect(conductor.sessions.size).toBe(1);
    clock.advanceMs(200);
    conductor.doWork();
    expect(conductor.sessions.size).toBe(0);
    request({ type: 'stats', controlSessionId: id, correlationId: 3n });
    await until('answers', () => responses().length === 4);
    const rs = responses();
    expect(rs.slice(0, 3).every((r) => r.ok)).toBe(true);
    expect(rs[0]!.relevantId).toBe(rs[1]!.relevantId);
    expect(rs[3]!.errorCode).toBe(ErrorCode.UNKNOWN_SESSION);
  });

  it('decodes datagrams fed to its adapter in-process, no control socket needed', async () => {
    const proxy = new ControlRequestProxy();
    conductor.adapter.dispatch(proxy.connect(1n, 0, '', 'in-process'), '127.0.0.1', client.port);
    const sid = [...conductor.sessions.values()][0]!.sessionId;
    conductor.adapter.dispatch(proxy.stats({ controlSessionId: sid, correlationId: 2n }), '127.0.0.1', client.port);
    conductor.adapter.dispatch(Buffer.from('not a message'), '127.0.0.1', client.port);
    await until('three answers', () => responses().length === 3);
    const [connected, stats, malformed] = responses();
    expect(connected!.ok && stats!.ok).toBe(true);
    expect(stats!.dataCount).toBeGreaterThan(0);
    expect(malformed!.errorCode).toBe(ErrorCode.MALFORMED_MESSAGE);
  });

  it('sends recording progress once per interval, only when the recording moved', async () => {
    connect(60_000);
    const sid = [...conductor.sessions.values()][0]!.sessionId;
    request({ type: 'subscribe', controlSessionId: sid, correlationId: 2n, mask: 0x2 });
    const src = await udpReceiver();
    const port = src.port;
    src.socket.close();
    const rs = conductor.recordings.start({ channel: 'prog', aliases: [], source: `udp://127.0.0.1:${port}` });
    await until('recording', async () => {
      conductor.doWork();
      return rs.recordingId >= 0;
    });
    const tx = createSocket('udp4');
    for (let i = 0; i < 5; i++) tx.send(`e${i}`, port, '127.0.0.1');
    await until('5 events', async () => {
      conductor.doWork();
      await new Promise((r) => setImmediate(r));
      return rs.eventCount === 5;
    });
    const progress = () => client.got.filter((m) => templateOf(m) === 201).map(decodeProgress);
    clock.advanceMs(999);
    conductor.doWork();
    clock.advanceMs(1);
    conductor.doWork();
    await until('first progress', () => progress().length === 1);
    expect(progress()[0]).toMatchObject({ recordingId: rs.recordingId, eventCount: 5, position: rs.position });
    clock.advanceMs(1000);
    conductor.doWork(); // nothing changed: no progress
    tx.send('e5', port, '127.0.0.1');
    await until('6th event', async () => {
      conductor.doWork();
      await new Promise((r) => setImmediate(r));
      return rs.eventCount === 6;
    });
    clock.advanceMs(1000);
    conductor.doWork();
    await until('second progress', () => progress().length === 2);
    expect(progress().map((p) => p.eventCount)).toEqual([5, 6]);
    // no third one was ever sent (counted when handed to the socket, not when it arrives)
    expect(notifications.sent).toBe(2);
    tx.close();
  });

  it('fails and reports a recording whose doWork throws; the other recordings go on', async () => {
    const real = new SourceBinding(clock, clock, () => {});
    let faulty: string | undefined;
    // the real source, except that poll() of the faulty one throws something no session expects
    const sources: SourceFactory = {
      create(uri, opts): EventSourcePort {
        const s = real.create(uri, opts);
        if (uri !== faulty) return s;
        return {
          open: () => s.open(),
          poll: () => {
            throw new TypeError('a bug in a source');
          },
          isEnded: () => s.isEnded(),
          failure: () => s.failure(),
          boundUri: () => s.boundUri(),
          flush: (h) => s.flush(h),
          counters: () => s.counters(),
          close: () => s.close(),
        };
      },
    };
    conductor.onClose();
    conductor = makeConductor(sources);
    connect(60_000);
    const sid = [...conductor.sessions.values()][0]!.sessionId;
    request({ type: 'subscribe', controlSessionId: sid, correlationId: 2n, mask: 0x11 });
    const ports = [await udpReceiver(), await udpReceiver()].map((r) => {
      r.socket.close();
      return r.port;
    });
    faulty = `udp://127.0.0.1:${ports[1]}`;
    const good = conductor.recordings.start({ channel: 'good', aliases: [], source: `udp://127.0.0.1:${ports[0]}` });
    const bad = conductor.recordings.start({ channel: 'bad', aliases: [], source: faulty });
    await until('both recording or failed', async () => {
      conductor.doWork();
      await new Promise((r) => setImmediate(r));
      return good.recordingId >= 0 && (bad.recordingId >= 0 || bad.isDone());
    });
    const tx = createSocket('udp4');
    await until('the faulty recording failed and the good one records', async () => {
      tx.send('g', ports[0]!, '127.0.0.1');
      conductor.doWork();
      await new Promise((r) => setImmediate(r));
      return bad.isDone() && good.eventCount > 0;
    });
    const before = good.eventCount;
    await until('the good recording keeps recording', async () => {
      tx.send('g', ports[0]!, '127.0.0.1');
      conductor.doWork();
      await new Promise((r) => setImmediate(r));
      return good.eventCount > before;
    });
    tx.close();
    expect(good.isActive()).toBe(true);
    expect(conductor.recordings.size).toBe(1);
    expect(counters.get('recordingsFailed')).toBe(1);
    const stopped = await until('RecordingStopped(ERROR) of the faulty one', () =>
      client.got.filter((m) => templateOf(m) === 202).map(decodeStopped).find((n) => n.recordingId === bad.recordingId),
    );
    expect(stopped).toMatchObject({ reason: 2, errorCode: ErrorCode.GENERIC });
    await until('ErrorNotification', () => client.got.some((m) => templateOf(m) === 207));
  });

  it('paces a replay by recorded monotonic time divided by speed', async () => {
    const w = store.createRecording({ channel: 'paced', aliases: [], source: 'test', startUtcNs: clock.epochNanos(), startMonoNs: 0n });
    const monos = [0n, 100_000_000n, 300_000_000n];
    for (const [i, m] of monos.entries()) w.append(Buffer.from(`p${i}`), 0, 2, 1_700_000_000_000_000_000n + m, m);
    w.commit();
    w.stop(clock.epochNanos());
    const rx = await udpReceiver();
    const ep = parseUdpEndpoint(`udp://127.0.0.1:${rx.port}`);
    const replay = new ReplaySession(
      1,
      [{ recordingId: w.recordingId, reader: store.openReader(w.recordingId, 0, false), destination: ep, sender: new UdpSender(ep), endPosition: Infinity }],
      { speed: 2, follow: false, toUtcNs: null },
      () => clock.nanoTime(),
    );
    replay.doWork();
    expect(replay.eventsSent).toBe(1);
    clock.advanceMs(49);
    replay.doWork();
    expect(replay.eventsSent).toBe(1);
    clock.advanceMs(1); // 100 ms recorded / speed 2
    replay.doWork();
    expect(replay.eventsSent).toBe(2);
    clock.advanceMs(99);
    replay.doWork();
    expect(replay.eventsSent).toBe(2);
    clock.advanceMs(1); // a further 200 ms recorded / 2
    replay.doWork();
    expect(replay.eventsSent).toBe(3);
    replay.doWork();
    expect(replay.isDone()).toBe(true);
    expect(replay.endReason).toBe('SOURCE_ENDED');
    await until('3 datagrams', () => rx.got.length === 3);
    expect(rx.got.map(String)).toEqual(['p0', 'p1', 'p2']);
    rx.socket.close();
  });

  it('sends a full-speed replay in bounded batches per duty cycle', () => {
    const w = store.createRecording({ channel: 'fast', aliases: [], source: 'test', startUtcNs: clock.epochNanos(), startMonoNs: 0n });
    for (let i = 0; i < 600; i++) w.append(Buffer.from('x'), 0, 1, 1_700_000_000_000_000_000n + BigInt(i), BigInt(i));
    w.stop(clock.epochNanos());
    const ep = parseUdpEndpoint('udp://127.0.0.1:9');
    const replay = new ReplaySession(
      1,
      [{ recordingId: w.recordingId, reader: store.openReader(w.recordingId, 0, false), destination: ep, sender: new UdpSender(ep), endPosition: Infinity }],
      { speed: 0, follow: false, toUtcNs: null, batchLimit: 256, maxInFlight: 100_000 },
      () => clock.nanoTime(),
    );
    expect(replay.doWork()).toBe(256);
    expect(replay.doWork()).toBe(256);
    replay.doWork();
    expect(replay.eventsSent).toBe(600);
    replay.doWork();
    expect(replay.isDone()).toBe(true);
  });
});
