/**
 * Where the archiver sends, checked before anything starts, over real UDP to a real archiver:
 * a multicast interface that is not this host's, the archiver's own control endpoint (replays,
 * response channels, notification destinations), host names (localhost works, others are
 * refused with a message saying so), and error messages that quote a huge argument.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ReplaySession } from '../../src/archiver/replay-session.js';
import { StorageBinding } from '../../src/archiver/storage-binding.js';
import { UdpSender, parseUdpEndpoint } from '../../src/archiver/udp-endpoint.js';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { RawClient, launchArchiver, removeDir, tempDir, templateOf, until } from './support.js';

async function receiver(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, got };
}

describe('replay and response destinations', () => {
  let archiver: Archiver;
  let dir: string;
  let c: RawClient;
  let recordingId: number;

  beforeEach(async () => {
    ({ archiver, dir } = await launchArchiver());
    c = await RawClient.connect(archiver.controlPort);
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
    const file = join(dir, 'd.txt');
    writeFileSync(file, 'one\ntwo\nthree\n');
    const r = await c.call((ids) => c.proxy.startRecording(ids, 'dest', `file://${file}`, []));
    recordingId = Number(r.response.relevantId);
    await until('recorded', () => c.notifications.some((n) => templateOf(n) === 202));
    c.notifications.length = 0;
  });

  afterEach(async () => {
    c.close();
    await archiver.close();
    removeDir(dir);
  });

  const replayTo = (destination: string) =>
    c.call((ids) => c.proxy.replay(ids, { recordingId, position: null, length: null, speed: 0, follow: false, destination }));

  it('refuses a multicast interface that is not an address of this host, before sending anything', async () => {
    const r = await replayTo('udp://239.255.0.81:40001?interface=10.99.99.99');
    expect(r.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    const t = await c.call((ids) =>
      c.proxy.timeReplay(ids, {
        fromUtcNs: null,
        toUtcNs: null,
        speed: 0,
        follow: false,
        channels: [{ channel: 'dest', destination: 'udp://239.255.0.81:40001?interface=10.99.99.99' }],
      }),
    );
    expect(t.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(c.notifications.filter((n) => templateOf(n) === 203 || templateOf(n) === 204)).toHaveLength(0);
  });

  it("refuses the archiver's own control endpoint as a replay destination or a response channel", async () => {
    const port = archiver.controlPort;
    for (const d of [`udp://127.0.0.1:${port}`, `udp://localhost:${port}`, `udp://0.0.0.0:${port}`]) {
      expect((await replayTo(d)).response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    const t = await c.call((ids) =>
      c.proxy.timeReplay(ids, { fromUtcNs: null, toUtcNs: null, speed: 0, follow: false, channels: [{ channel: 'dest', destination: `udp://127.0.0.1:${port}` }] }),
    );
    expect(t.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    const other = await RawClient.bare(port);
    const r = await other.exchange(other.proxy.connect(1n, 0, `udp://127.0.0.1:${port}`, 'loop'), 1n);
    expect(r.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    other.close();
    expect(archiver.counters.get('sessionsOpened')).toBe(1);
  });

  it('replays to udp://localhost:PORT, and refuses other host names with a message saying so', async () => {
    const rx = await receiver();
    expect((await replayTo(`udp://localhost:${rx.port}`)).response.ok).toBe(true);
    await until('3 datagrams', () => rx.got.length === 3);
    expect(rx.got.map(String)).toEqual(['one', 'two', 'three']);
    rx.socket.close();
    const named = await replayTo('udp://nosuch.invalid:9');
    expect(named.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(named.response.errorMessage).toMatch(/host names are not supported/);
  });

  it('quotes a huge argument shortened in the error message', async () => {
    const huge = 'x'.repeat(30_000);
    const r = await c.call((ids) => c.proxy.stopRecording(ids, null, huge));
    expect(r.response.errorCode).toBe(ErrorCode.UNKNOWN_CHANNEL);
    expect(r.response.errorMessage.length).toBeLessThan(600);
    const d = await replayTo(`udp://${huge}:9`);
    expect(d.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(d.response.errorMessage.length).toBeLessThan(600);
  });
});

describe('replay sockets', () => {
  it('a replay whose multicast option fails ends with INVALID_ARGUMENT before sending', async () => {
    const dir = tempDir();
    const store = StorageBinding.open(dir, {});
    try {
      const clock = new ManualClock(1_000_000_000n);
      const w = store.createRecording({ channel: 'm', aliases: [], source: 'test', startUtcNs: clock.epochNanos(), startMonoNs: 0n });
      w.append(Buffer.from('m0'), 0, 2, 1_700_000_000_000_000_000n, 0n);
      w.stop(clock.epochNanos());
      // the interface check is the handler's; the socket option is the sender's own safety net
      const ep = parseUdpEndpoint('udp://239.255.0.82:40002?interface=10.99.99.99');
      const sender = new UdpSender(ep);
      await expect(sender.whenReady()).rejects.toSatisfy((e: unknown) => isVcrError(e, ErrorCode.INVALID_ARGUMENT));
      const replay = new ReplaySession(
        1,
        [{ recordingId: w.recordingId, reader: store.openReader(w.recordingId, 0, false), destination: ep, sender, endPosition: Infinity }],
        { speed: 0, follow: false, toUtcNs: null },
        () => clock.nanoTime(),
      );
      replay.doWork();
      expect(replay.isDone()).toBe(true);
      expect(replay.started).toBe(false);
      expect(replay.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(replay.eventsSent).toBe(0);
    } finally {
      store.close();
      removeDir(dir);
    }
  });
});

describe('notification destinations and the client', () => {
  it("refuses a notification destination that is the archiver's control endpoint, or whose interface is not this host's", async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    probe.close();
    await expect(launchArchiver({ control: `127.0.0.1:${port}`, notifications: [`udp://127.0.0.1:${port}`] })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringContaining('notifications[0]'),
    });
    await expect(launchArchiver({ notifications: ['udp://239.255.0.83:40003?interface=10.99.99.99'] })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
  });

  it('connects to localhost:PORT and refuses other host names at once', async () => {
    const { archiver, dir } = await launchArchiver();
    try {
      const client = await ArchiveClient.connect({ archiver: `localhost:${archiver.controlPort}` });
      expect((await client.stats()).counters.size).toBeGreaterThan(0);
      await client.close();
      const started = Date.now();
      await expect(ArchiveClient.connect({ archiver: 'nosuch.invalid:8010', attempts: 1 })).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
        message: expect.stringMatching(/host names are not supported/),
      });
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      await archiver.close();
      removeDir(dir);
    }
  });
});
