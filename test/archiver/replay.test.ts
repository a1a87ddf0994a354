/**
 * Replays to real UDP sockets: one recording at full speed, several channels merged by time
 * each to its own destination, stop and follow.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ErrorCode } from '../../src/util/errors.js';
import { RecordingStoppedDecoder } from '../../codecs/generated/control/index.js';
import { RawClient, decodeChunk, decodeReplayEnded, decodeStopped, launchArchiver, removeDir, templateOf, until } from './support.js';

async function receiver(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, port: socket.address().port, got };
}

describe('archiver replay', () => {
  let archiver: Archiver;
  let dir: string;
  let c: RawClient;

  beforeEach(async () => {
    ({ archiver, dir } = await launchArchiver());
    c = await RawClient.connect(archiver.controlPort);
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
  });

  afterEach(async () => {
    c.close();
    await archiver.close();
    removeDir(dir);
  });

  async function recordFile(channel: string, lines: string[]): Promise<number> {
    const file = join(dir, `${channel}.txt`);
    writeFileSync(file, lines.join('\n'));
    const r = await c.call((ids) => c.proxy.startRecording(ids, channel, `file://${file}`, []));
    expect(r.response.ok).toBe(true);
    const id = r.response.relevantId;
    await until(`${channel} stopped`, () =>
      c.notifications.some((n) => templateOf(n) === RecordingStoppedDecoder.TEMPLATE_ID && decodeStopped(n).recordingId === id),
    );
    return id;
  }

  it('replays a recording from a position for a length at full speed', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line-${i}`);
    const id = await recordFile('lines', lines);
    const rx = await receiver();
    const all = await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: id, position: null, length: null, speed: 0, follow: false, destination: `udp://127.0.0.1:${rx.port}` }),
    );
    expect(all.response.ok).toBe(true);
    await until('2000 datagrams', () => rx.got.length === 2000);
    expect(rx.got.map((b) => b.toString())).toEqual(lines);
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204));
    expect(decodeReplayEnded(ended)).toMatchObject({ replaySessionId: Number(all.response.relevantId), eventsSent: 2000, reason: 1 });

    // position of event 10 found by reading, then a length covering exactly 5 events
    const chunk = await c.call((ids) => c.proxy.read(ids, { recordingId: id, position: 0, fragmentOffset: 0, maxBytes: 0, toUtcNs: null }));
    expect(chunk.response.ok).toBe(true);
    const events = decodeChunk(chunk.data[0]!).events;
    const from = events[10]!.position;
    const length = events[15]!.position - from;
    rx.got.length = 0;
    await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: id, position: from, length, speed: 0, follow: false, destination: `udp://127.0.0.1:${rx.port}` }),
    );
    await until('5 datagrams', () => rx.got.length === 5);
    expect(rx.got.map((b) => b.toString())).toEqual(lines.slice(10, 15));
    rx.socket.close();
  });

  it('merges channels by time, each to its own destination, and refuses bad requests', async () => {
    const a = await recordFile('chan.a', ['a0', 'a1', 'a2']);
    const b = await recordFile('chan.b', ['b0', 'b1']);
    const rxA = await receiver();
    const rxB = await receiver();
    const r = await c.call((ids) =>
      c.proxy.timeReplay(ids, {
        fromUtcNs: null,
        toUtcNs: null,
        speed: 0,
        follow: false,
        channels: [
          { channel: 'chan.a', destination: `udp://127.0.0.1:${rxA.port}` },
          { channel: 'chan.b', destination: `udp://127.0.0.1:${rxB.port}` },
        ],
      }),
    );
    expect(r.response.ok).toBe(true);
    await until('all merged events', () => rxA.got.length === 3 && rxB.got.length === 2);
    expect(rxA.got.map(String)).toEqual(['a0', 'a1', 'a2']);
    expect(rxB.got.map(String)).toEqual(['b0', 'b1']);
    expect(a).not.toBe(b);

    const unknown = await c.call((ids) =>
      c.proxy.timeReplay(ids, { fromUtcNs: null, toUtcNs: null, speed: 0, follow: false, channels: [{ channel: 'nope', destination: `udp://127.0.0.1:${rxA.port}` }] }),
    );
    expect(unknown.response.errorCode).toBe(ErrorCode.UNKNOWN_CHANNEL);
    const badDest = await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: a, position: null, length: null, speed: 0, follow: false, destination: 'tcp://x:1' }),
    );
    expect(badDest.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    const badPos = await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: a, position: 5, length: null, speed: 0, follow: false, destination: `udp://127.0.0.1:${rxA.port}` }),
    );
    expect(badPos.response.errorCode).toBe(ErrorCode.INVALID_POSITION);
    const noReplay = await c.call((ids) => c.proxy.stopReplay(ids, 999));
    expect(noReplay.response.errorCode).toBe(ErrorCode.UNKNOWN_REPLAY);
    rxA.socket.close();
    rxB.socket.close();
  });

  it('follows a live UDP recording and stops on request', async () => {
    const src = await receiver(); // only to reserve a port number
    const port = src.port;
    src.socket.close();
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'live', `udp://127.0.0.1:${port}`, []));
    const id = Number(start.response.relevantId);
    const rx = await receiver();
    const rep = await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: id, position: null, length: null, speed: 0, follow: true, destination: `udp://127.0.0.1:${rx.port}` }),
    );
    expect(rep.response.ok).toBe(true);
    const tx = createSocket('udp4');
    for (let i = 0; i < 20; i++) tx.send(`live-${i}`, port, '127.0.0.1');
    await until('followed events', () => rx.got.length === 20);
    for (let i = 20; i < 30; i++) tx.send(`live-${i}`, port, '127.0.0.1');
    await until('more followed events', () => rx.got.length === 30);
    expect(rx.got.map(String)).toEqual(Array.from({ length: 30 }, (_, i) => `live-${i}`));
    const stop = await c.call((ids) => c.proxy.stopReplay(ids, Number(rep.response.relevantId)));
    expect(stop.response.ok).toBe(true);
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204));
    expect(decodeReplayEnded(ended)).toMatchObject({ eventsSent: 30, reason: 0 });
    tx.close();
    rx.socket.close();
  });

  it('records from a multicast group and replays to one', async () => {
    const groupIn = '239.255.0.79';
    const groupOut = '239.255.0.78';
    const free = await receiver();
    const inPort = free.port;
    free.socket.close();
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'mcast', `udp://${groupIn}:${inPort}?interface=127.0.0.1`, []));
    expect(start.response.ok).toBe(true);
    const id = Number(start.response.relevantId);
    const tx = createSocket('udp4');
    await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
    tx.setMulticastInterface('127.0.0.1');
    tx.setMulticastLoopback(true);
    await until('multicast events recorded', async () => {
      tx.send('m', inPort, groupIn);
      const p = await c.call((ids) => c.proxy.recordingPosition(ids, id));
      return Number(p.response.relevantId) > 0;
    });
    await c.call((ids) => c.proxy.stopRecording(ids, id, ''));
    const rx = createSocket({ type: 'udp4', reuseAddr: true });
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, () => r()));
    rx.addMembership(groupOut, '127.0.0.1');
    const outPort = rx.address().port;
    const rep = await c.call((ids) =>
      c.proxy.replay(ids, { recordingId: id, position: null, length: null, speed: 0, follow: false, destination: `udp://${groupOut}:${outPort}?interface=127.0.0.1&ttl=1` }),
    );
    expect(rep.response.ok).toBe(true);
    await until('multicast replay received', () => got.length > 0);
    expect(got.every((m) => m.toString() === 'm')).toBe(true);
    tx.close();
    rx.close();
  });

  it('a time replay with follow takes recordings of its channels that start later, each to its channel destination', async () => {
    await recordFile('tf.a', ['a0', 'a1']);
    await recordFile('tf.b', ['b0']);
    const rxA = await receiver();
    const rxB = await receiver();
    const rep = await c.call((ids) =>
      c.proxy.timeReplay(ids, {
        fromUtcNs: null,
        toUtcNs: null,
        speed: 0,
        follow: true,
        channels: [
          { channel: 'tf.a', destination: `udp://127.0.0.1:${rxA.port}` },
          { channel: 'tf.b', destination: `udp://127.0.0.1:${rxB.port}` },
        ],
      }),
    );
    expect(rep.response.ok).toBe(true);
    const replayId = Number(rep.response.relevantId);
    await until('the recorded events', () => rxA.got.length === 2 && rxB.got.length === 1);
    // new recordings of both channels, after the request: a finished file and a live UDP stream
    await recordFile('tf.a', ['a2', 'a3']);
    await until('the later file recording', () => rxA.got.length === 4);
    const src = await receiver();
    const port = src.port;
    src.socket.close();
    const live = await c.call((ids) => c.proxy.startRecording(ids, 'tf.b', `udp://127.0.0.1:${port}`, []));
    expect(live.response.ok).toBe(true);
    const tx = createSocket('udp4');
    for (let i = 1; i <= 3; i++) tx.send(`b${i}`, port, '127.0.0.1');
    await until('the live recording', () => rxB.got.length === 4);
    tx.close();
    expect(rxA.got.map(String)).toEqual(['a0', 'a1', 'a2', 'a3']);
    expect(rxB.got.map(String)).toEqual(['b0', 'b1', 'b2', 'b3']);
    // open-ended: still running until stopped
    expect(c.notifications.some((n) => templateOf(n) === 204)).toBe(false);
    await c.call((ids) => c.proxy.stopReplay(ids, replayId));
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204));
    expect(decodeReplayEnded(ended)).toMatchObject({ replaySessionId: replayId, eventsSent: 8, reason: 0 });
    rxA.socket.close();
    rxB.socket.close();
  });

  it('a time replay with follow and a "to" takes new recordings until "to", then ends', async () => {
    await recordFile('tg', ['g0']);
    const rx = await receiver();
    const to = BigInt(Date.now() + 1500) * 1_000_000n;
    const rep = await c.call((ids) =>
      c.proxy.timeReplay(ids, { fromUtcNs: null, toUtcNs: to, speed: 0, follow: true, channels: [{ channel: 'tg', destination: `udp://127.0.0.1:${rx.port}` }] }),
    );
    expect(rep.response.ok).toBe(true);
    await recordFile('tg', ['g1']);
    await until('the later recording', () => rx.got.length === 2);
    const ended = await until('ReplayEnded once "to" passed', () => c.notifications.find((n) => templateOf(n) === 204), 10_000);
    expect(BigInt(Date.now()) * 1_000_000n).toBeGreaterThan(to);
    expect(decodeReplayEnded(ended)).toMatchObject({ eventsSent: 2, reason: 1 });
    await recordFile('tg', ['g2']); // after the replay ended: not sent
    expect(rx.got.map(String)).toEqual(['g0', 'g1']);
    rx.socket.close();
  });

  it('a time replay with follow and a "to" ends after "to" even when its live recording goes quiet', async () => {
    const src = await receiver();
    const port = src.port;
    src.socket.close();
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'quiet', `udp://127.0.0.1:${port}`, []));
    expect(start.response.ok).toBe(true);
    const tx = createSocket('udp4');
    await until('one event recorded', async () => {
      tx.send('q0', port, '127.0.0.1');
      const p = await c.call((ids) => c.proxy.recordingPosition(ids, Number(start.response.relevantId)));
      return Number(p.response.relevantId) > 0;
    });
    tx.close();
    const rx = await receiver();
    const to = BigInt(Date.now() + 300) * 1_000_000n;
    const rep = await c.call((ids) =>
      c.proxy.timeReplay(ids, { fromUtcNs: null, toUtcNs: to, speed: 0, follow: true, channels: [{ channel: 'quiet', destination: `udp://127.0.0.1:${rx.port}` }] }),
    );
    expect(rep.response.ok).toBe(true);
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204), 5000);
    expect(decodeReplayEnded(ended).reason).toBe(1); // SOURCE_ENDED
    expect(rx.got.length).toBeGreaterThan(0);
    rx.socket.close();
  });

  it('stops the replays of a session that closes (CLIENT_GONE)', async () => {
    const src = await receiver();
    const port = src.port;
    src.socket.close();
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'gone', `udp://127.0.0.1:${port}`, []));
    const other = await RawClient.connect(archiver.controlPort);
    const rep = await other.call((ids) =>
      other.proxy.replay(ids, { recordingId: Number(start.response.relevantId), position: null, length: null, speed: 0, follow: true, destination: 'udp://127.0.0.1:9' }),
    );
    expect(rep.response.ok).toBe(true);
    await other.call((ids) => other.proxy.closeSession(ids));
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204));
    expect(decodeReplayEnded(ended)).toMatchObject({ replaySessionId: Number(rep.response.relevantId), reason: 4 });
    other.close();
  });
});
