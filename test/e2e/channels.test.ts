/**
 * End to end: several channels replayed by time interval (merged, each to its own UDP
 * destination, and to stdout), `events --follow` on a live recording, and quarantine holds
 * protecting events from `delete`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { repoRoot, vcrBin } from '../helpers/cli.js';
import { Listener, exitWithin, freeUdpPort, jsonLines, sendDatagrams, startArchiver, stopAll, tempDir, until, vcr, type ArchiverProcess } from './harness.js';

let archiver: ArchiverProcess;
let client: ArchiveClient;
let A: string[];
const ports: Record<string, number> = {};
const ids: Record<string, number> = {};
/** payloads of both channels in (utcNs, recordingId, position) order, from per-recording reads */
let merged: string[] = [];

beforeAll(async () => {
  archiver = await startArchiver(join(tempDir('vcr-e2e-ch-'), 'archive'));
  A = ['--archiver', archiver.control];
  client = await ArchiveClient.connect({ archiver: archiver.control });
  for (const ch of ['ch.a', 'ch.b']) {
    ports[ch] = await freeUdpPort();
    ids[ch] = await client.startRecording({ channel: ch, source: `udp://127.0.0.1:${ports[ch]}` });
  }
  // interleave the two channels: a0 b0 a1 b1 ..., each recorded before the next is sent
  for (let i = 0; i < 10; i++) {
    for (const ch of ['ch.a', 'ch.b']) {
      await sendDatagrams(ports[ch]!, [Buffer.from(`${ch.slice(3)}${i}`)], []);
      await until(`${ch} event ${i} recorded`, 10_000, async () => (await client.describeRecording(ids[ch]!)).eventCount === i + 1);
    }
  }
  const each = [];
  for (const ch of ['ch.a', 'ch.b']) for await (const e of client.read({ recordingId: ids[ch]! })) each.push(e);
  each.sort((x, y) => (x.utcNs !== y.utcNs ? (x.utcNs < y.utcNs ? -1 : 1) : x.recordingId - y.recordingId || x.position - y.position));
  merged = each.map((e) => e.payload.toString());
});

afterAll(async () => {
  await client?.close();
  await stopAll();
});

describe('several channels', () => {
  it('events merges them in timestamp order', async () => {
    const r = await vcr(['events', '--channel', 'ch.a', '--channel', 'ch.b', '--from', '-10m', '--to', 'now', '--json', ...A]);
    expect(r.status).toBe(0);
    const got = jsonLines(r.stdout).map((e) => Buffer.from(e.payload as string, 'base64').toString());
    expect(got).toEqual(merged);
    expect([...got].sort()).toEqual(Array.from({ length: 10 }, (_, i) => [`a${i}`, `b${i}`]).flat().sort());
  });

  it('replay --map sends each channel to its own destination', async () => {
    const la = await Listener.open();
    const lb = await Listener.open();
    try {
      const r = await vcr(['replay', '--from', '-10m', '--to', 'now', '--map', `ch.a=${la.uri}`, '--map', `ch.b=${lb.uri}`, '--speed', '0', ...A]);
      expect(r.stderr).toMatch(/replay session \d+ ended/);
      expect(r.status).toBe(0);
      await until('all datagrams', 3000, async () => la.received.length >= 10 && lb.received.length >= 10);
      expect(la.received.map((x) => x.payload.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
      expect(lb.received.map((x) => x.payload.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
    } finally {
      la.close();
      lb.close();
    }
  });

  it('replay --output - writes the merged channels to stdout', async () => {
    const r = await vcr(['replay', '--channel', 'ch.a', '--channel', 'ch.b', '--from', '-10m', '--to', 'now', '--output', '-', '--separator', '%7C', ...A]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(merged.map((p) => `${p}|`).join(''));
  });

  it('events --follow prints live events until the recording stops', async () => {
    const port = await freeUdpPort();
    const id = await client.startRecording({ channel: 'live', source: `udp://127.0.0.1:${port}` });
    const child = spawn(process.execPath, [vcrBin, 'events', '--channel', 'live', '--from', '-1m', '--follow', '--json', ...A], { cwd: repoRoot });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      // sent while the command starts, or once it polls the live end: printed either way
      await sendDatagrams(port, [Buffer.from('live-1'), Buffer.from('live-2')], [5]);
      await until('live events printed', 5000, async () => jsonLines(stdout).length >= 2);
      await client.stopRecording({ recordingId: id });
      expect(await exitWithin(child, 5000)).toBe(0);
      expect(jsonLines(stdout).map((e) => Buffer.from(e.payload as string, 'base64').toString())).toEqual(['live-1', 'live-2']);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('notifications and stopping', () => {
  it('a subscribed client is told when a recording starts and stops', async () => {
    const { NotificationKind } = await import('../../src/client/notifications.js');
    const seen: string[] = [];
    const unsubscribe = await client.subscribe(NotificationKind.recording, (n) => {
      if (n.type === 'recordingStarted') seen.push(`started ${n.recordingId} ${n.channel}`);
      if (n.type === 'recordingStopped') seen.push(`stopped ${n.recordingId} ${n.reason}`);
    });
    try {
      const port = await freeUdpPort();
      const id = await client.startRecording({ channel: 'notified', source: `udp://127.0.0.1:${port}` });
      await client.stopRecording({ recordingId: id });
      await until('both notifications', 3000, async () => seen.length >= 2);
      expect(seen).toEqual([`started ${id} notified`, `stopped ${id} requested`]);
    } finally {
      await unsubscribe();
    }
  });

  it('Ctrl-C (SIGINT) on a UDP replay stops the replay in the archiver', async () => {
    const sink = await Listener.open();
    const child = spawn(process.execPath, [vcrBin, 'replay', '--recording', String(ids['ch.b']), '--dest', sink.uri, '--speed', '0.01', ...A], { cwd: repoRoot });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await until('the replay to start', 5000, async () => /started/.test(stderr));
      child.kill('SIGINT');
      expect(await exitWithin(child, 5000)).toBe(130); // 128 + SIGINT, after stopping the replay
      expect(stderr).toMatch(/ended \(requested\)/);
      expect(sink.received.length).toBeLessThan(10);
    } finally {
      child.kill('SIGKILL');
      sink.close();
    }
  });
});

describe('quarantine and delete', () => {
  it('delete removes only what no hold protects; released holds stop protecting', async () => {
    const all = jsonLines((await vcr(['events', '--channel', 'ch.a', '--from', '-10m', '--to', 'now', '--json', ...A])).stdout);
    // interval ends between two events, so inclusive and half-open readings of "to" agree
    const t = all.map((e) => BigInt(e.utcNs as string));
    const utc = t.map((x, i) => String(i + 1 < t.length ? (x + t[i + 1]!) / 2n : x + 1n));
    utc[0] = String(t[0]! - 1n);
    const add = await vcr(['quarantine', 'add', '--channel', 'ch.a', '--from', utc[0]!, '--to', utc[4]!, ...A]);
    expect(add.status).toBe(0);
    const qid = Number(add.stdout);
    const list = jsonLines((await vcr(['quarantine', 'list', '--json', ...A])).stdout);
    expect(list).toContainEqual({ quarantineId: qid, channel: 'ch.a', fromUtcNs: utc[0], toUtcNs: utc[4] });
    const byInterval = await vcr(['quarantine', 'list', '--channel', 'ch.b', '--json', ...A]);
    expect(jsonLines(byInterval.stdout)).toEqual([]);

    await client.stopRecording({ channel: 'ch.a' });
    const del = await vcr(['delete', '--channel', 'ch.a', '--from', utc[0]!, '--to', utc[7]!, ...A]);
    expect(del.stderr).toBe('');
    expect(del.status).toBe(0);
    expect(Number(del.stdout)).toBe(3); // a5, a6, a7
    const left = jsonLines((await vcr(['events', '--channel', 'ch.a', '--from', '-10m', '--to', 'now', '--json', ...A])).stdout);
    expect(left.map((e) => Buffer.from(e.payload as string, 'base64').toString())).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a8', 'a9']);

    const rm = await vcr(['quarantine', 'remove', String(qid), ...A]);
    expect(rm.status).toBe(0);
    expect(jsonLines((await vcr(['quarantine', 'list', '--json', ...A])).stdout)).not.toContainEqual(expect.objectContaining({ quarantineId: qid }));
    const del2 = await vcr(['delete', '--channel', 'ch.a', '--from', utc[0]!, '--to', utc[9]!, ...A]);
    expect(Number(del2.stdout)).toBe(7);
  });

  it('intervals are closed: an event stamped exactly at from or to is held, deleted and shown alike', async () => {
    await client.stopRecording({ channel: 'ch.b' }).catch(() => undefined); // may be stopped already
    const evs = [];
    for await (const e of client.read({ recordingId: ids['ch.b']! })) evs.push(e);
    expect(evs.length).toBe(10);
    const t = evs.map((e) => e.utcNs);
    // hold exactly [b2, b3]; delete exactly [b2, b5]: b4 and b5 go, b2 and b3 (held at both ends) stay
    const qid = await client.addQuarantine({ channel: 'ch.b', fromUtcNs: t[2]!, toUtcNs: t[3]! });
    expect(await client.listQuarantines()).toContainEqual(expect.objectContaining({ quarantineId: qid, fromUtcNs: t[2], toUtcNs: t[3] }));
    const shown = jsonLines((await vcr(['events', '--channel', 'ch.b', '--from', String(t[2]), '--to', String(t[5]), '--json', ...A])).stdout);
    expect(shown.length).toBe(4);
    expect(await client.deleteEvents({ channel: 'ch.b', fromUtcNs: t[2]!, toUtcNs: t[5]! })).toBe(2);
    const left = [];
    for await (const e of client.read({ recordingId: ids['ch.b']! })) left.push(e.payload.toString());
    expect(left).toEqual(['b0', 'b1', 'b2', 'b3', 'b6', 'b7', 'b8', 'b9']);
  });
});


describe('live replays in stats', () => {
  it('stats lists a replay while it runs (so a waiter that lost ReplayEnded can tell), and not after', async () => {
    const sink = await Listener.open();
    try {
      // ch.b's events are at least a round trip apart: at speed 0.001 the replay lasts seconds
      const id = await client.replay({ recordingId: ids['ch.b']!, destination: sink.uri, speed: 0.001 });
      const live = (await client.stats()).counters;
      expect(live.get('activeReplays')).toBe(1);
      expect(live.has(`replay.${id}.eventsSent`)).toBe(true);
      await client.stopReplay(id);
      await until('the replay to leave the stats', 5000, async () => !(await client.stats()).counters.has(`replay.${id}.eventsSent`));
    } finally {
      sink.close();
    }
  });
});
