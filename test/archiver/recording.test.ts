/**
 * Recording and reading through the control protocol with real UDP sockets and files:
 * start/stop, list/describe/position/find, channels and aliases, stats, SOURCE_ENDED,
 * reliable reads with fragments, duplicates answered from the cache.
 */
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ErrorCode } from '../../src/util/errors.js';
import {
  RawClient,
  decodeDescriptor,
  decodeStats,
  decodeStopped,
  launchArchiver,
  readAll,
  removeDir,
  templateOf,
  until,
} from './support.js';

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('archiver recording over the control protocol', () => {
  let archiver: Archiver;
  let dir: string;
  let c: RawClient;

  beforeEach(async () => {
    ({ archiver, dir } = await launchArchiver({ progressIntervalMs: 50 }));
    c = await RawClient.connect(archiver.controlPort);
  });

  afterEach(async () => {
    c.close();
    await archiver.close();
    removeDir(dir);
  });

  it('records a UDP stream, reports it, and reads every event back in order', async () => {
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
    const port = await freePort();
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'radar.tracks', `udp://127.0.0.1:${port}`, ['tracks']));
    expect(start.response.ok).toBe(true);
    const recordingId = Number(start.response.relevantId);
    const eventCount = async (): Promise<number> =>
      decodeDescriptor((await c.call((ids) => c.proxy.describeRecording(ids, recordingId))).data[0]!).eventCount;
    const tx = createSocket('udp4');
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(`event-${i}-${'x'.repeat(i % 50)}`);
      sent.push(b);
      tx.send(b, port, '127.0.0.1');
      // paced by the archiver itself: each batch of 50 is recorded before the next is sent
      if (i % 50 === 49) await until(`${i + 1} events recorded`, async () => (await eventCount()) === i + 1);
    }
    await until('all events recorded', async () => {
      const p = await c.call((ids) => c.proxy.recordingPosition(ids, recordingId));
      const d = await c.call((ids) => c.proxy.describeRecording(ids, recordingId));
      return p.response.ok && decodeDescriptor(d.data[0]!).eventCount === 200;
    });
    tx.close();
    const stop = await c.call((ids) => c.proxy.stopRecording(ids, null, 'tracks'));
    expect(stop.response.ok).toBe(true);
    expect(Number(stop.response.relevantId)).toBe(recordingId);

    const read = await readAll(c, recordingId, 1000);
    expect(read.payloads.map((p) => p.toString())).toEqual(sent.map((s) => s.toString()));
    expect(read.chunks).toBeGreaterThan(1);

    const list = await c.call((ids) =>
      c.proxy.listRecordings(ids, { fromRecordingId: 0, maxCount: 0, states: ['stopped'], fromUtcNs: null, toUtcNs: null, channel: 'tracks' }),
    );
    expect(list.response.dataCount).toBe(1);
    const desc = decodeDescriptor(list.data[0]!);
    expect(desc).toMatchObject({ recordingId, channel: 'radar.tracks', aliases: ['tracks'], eventCount: 200 });
    const none = await c.call((ids) =>
      c.proxy.listRecordings(ids, { fromRecordingId: 0, maxCount: 0, states: ['recording'], fromUtcNs: null, toUtcNs: null, channel: '' }),
    );
    expect(none.response.dataCount).toBe(0);

    const find = await c.call((ids) => c.proxy.findPosition(ids, recordingId, desc.startUtcNs));
    expect(Number(find.response.relevantId)).toBe(desc.startPosition);
    const end = await c.call((ids) => c.proxy.findPosition(ids, recordingId, desc.stopUtcNs + 1_000_000_000n));
    expect(Number(end.response.relevantId)).toBe(desc.stopPosition);

    const stats = decodeStats((await c.call((ids) => c.proxy.stats(ids))).data);
    expect(stats.get('events')).toBe(200);
    expect(stats.get('channel.radar.tracks.events')).toBe(200);
    expect(stats.get('channel.radar.tracks.bytes')).toBe(sent.reduce((n, b) => n + b.length, 0));

    await until('started, progress and stopped notifications', () => {
      const kinds = c.notifications.map(templateOf);
      return kinds.includes(200) && kinds.includes(201) && kinds.includes(202);
    });
    const stopped = decodeStopped(c.notifications.find((n) => templateOf(n) === 202)!);
    expect(stopped).toMatchObject({ recordingId, eventCount: 200, reason: 0, errorCode: 0 });
  });

  it('rejects a second recording of the same channel or alias, and unknown ids', async () => {
    const port = await freePort();
    const a = await c.call((ids) => c.proxy.startRecording(ids, 'a.chan', `udp://127.0.0.1:${port}`, ['alias-a']));
    expect(a.response.ok).toBe(true);
    const port2 = await freePort();
    const b = await c.call((ids) => c.proxy.startRecording(ids, 'b.chan', `udp://127.0.0.1:${port2}`, ['alias-a']));
    expect(b.response.errorCode).toBe(ErrorCode.CHANNEL_ALREADY_RECORDING);
    const bad = await c.call((ids) => c.proxy.startRecording(ids, 'c.chan', 'nonsense://x', []));
    expect(bad.response.errorCode).toBe(ErrorCode.INVALID_SOURCE);
    const taken = await c.call((ids) => c.proxy.startRecording(ids, 'd.chan', `udp://127.0.0.1:${port}`, []));
    expect(taken.response.ok).toBe(false);
    expect(taken.response.errorCode).toBe(ErrorCode.SOURCE_FAILED);
    const unknown = await c.call((ids) => c.proxy.describeRecording(ids, 12345));
    expect(unknown.response.errorCode).toBe(ErrorCode.UNKNOWN_RECORDING);
    const noChan = await c.call((ids) => c.proxy.stopRecording(ids, null, 'nope'));
    expect(noChan.response.errorCode).toBe(ErrorCode.UNKNOWN_CHANNEL);
    const channels = await c.call((ids) => c.proxy.listChannels(ids));
    expect(channels.response.dataCount).toBe(1);
  });

  it('stops a file recording by itself with SOURCE_ENDED and reads a large event in fragments', async () => {
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
    const big = Buffer.alloc(150_000, 0x61);
    big.write('start', 0);
    big.write('end', big.length - 3);
    const file = join(dir, 'input.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('one\ntwo\n'), big, Buffer.from('\nlast')]));
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'file.chan', `file://${file}`, []));
    expect(start.response.ok).toBe(true);
    const recordingId = Number(start.response.relevantId);
    const stoppedMsg = await until('RecordingStopped', () => c.notifications.find((n) => templateOf(n) === 202));
    const stopped = decodeStopped(stoppedMsg);
    expect(stopped.reason).toBe(1); // SOURCE_ENDED
    expect(stopped.eventCount).toBe(4);

    const read = await readAll(c, recordingId);
    expect(read.payloads.map((p) => p.length)).toEqual([3, 3, big.length, 4]);
    expect(read.payloads[2]!.equals(big)).toBe(true);
    expect(read.payloads[3]!.toString()).toBe('last');

    const badPos = await c.call((ids) => c.proxy.read(ids, { recordingId, position: 3, fragmentOffset: 0, maxBytes: 0, toUtcNs: null }));
    expect(badPos.response.errorCode).toBe(ErrorCode.INVALID_POSITION);
  });

  it('answers a duplicate request from the cache without executing it twice', async () => {
    const port = await freePort();
    const ids = c.ids();
    const req = c.proxy.startRecording(ids, 'dup.chan', `udp://127.0.0.1:${port}`, []);
    const first = await c.exchange(req, ids.correlationId);
    const second = await c.exchange(req, ids.correlationId);
    expect(second.response).toEqual(first.response);
    const list = await c.call((i) =>
      c.proxy.listRecordings(i, { fromRecordingId: 0, maxCount: 0, states: [], fromUtcNs: null, toUtcNs: null, channel: 'dup.chan' }),
    );
    expect(list.response.dataCount).toBe(1);
    const stats = decodeStats((await c.call((i) => c.proxy.stats(i))).data);
    expect(stats.get('duplicateRequests')).toBe(1);
  });

  it('refuses destructive requests when disabled, and runs quarantine and delete when allowed', async () => {
    const q = await c.call((ids) => c.proxy.addQuarantine(ids, 0n, 10n, ''));
    expect(q.response.ok).toBe(true);
    const list = await c.call((ids) => c.proxy.listQuarantines(ids));
    expect(list.response.dataCount).toBe(1);
    const rm = await c.call((ids) => c.proxy.removeQuarantine(ids, Number(q.response.relevantId)));
    expect(rm.response.ok).toBe(true);
    const cluster = await c.call((ids) => c.proxy.clusterStatus(ids));
    expect(cluster.response.ok).toBe(true);
    expect(cluster.data).toHaveLength(1);

    const locked = await launchArchiver({ allowDestructive: false });
    try {
      const c2 = await RawClient.connect(locked.archiver.controlPort);
      const del = await c2.call((ids) => c2.proxy.deleteEvents(ids, 0n, 10n, ''));
      expect(del.response.errorCode).toBe(ErrorCode.NOT_ALLOWED);
      const rm2 = await c2.call((ids) => c2.proxy.removeQuarantine(ids, 0));
      expect(rm2.response.errorCode).toBe(ErrorCode.NOT_ALLOWED);
      c2.close();
    } finally {
      await locked.archiver.close();
      removeDir(locked.dir);
    }
  });
});
