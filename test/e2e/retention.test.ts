/**
 * End to end: `vcr retention --dry-run` and `vcr retention run` against a real archiver process
 * whose config sets a retention limit. The events are old from the start: they come from a
 * generated packet capture (`vcr import --pcap` dates each event with its packet's capture
 * time), so nothing waits for time to pass.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { NotificationKind, type Notification } from '../../src/client/notifications.js';
import { repoRoot, vcrBin } from '../helpers/cli.js';
import { ethernet, ipv4, pcapFile, udp } from '../support/capture-writer.js';
import { ArchiverProcess, freeUdpPort, jsonLines, startArchiver, stopAll, tempDir, until, vcr } from './harness.js';

const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
const NOW = BigInt(Date.now()) * 1_000_000n;
/** 20 events, one every 12 hours, the first 10 days ago, the last 12 hours ago */
const TIMES = Array.from({ length: 20 }, (_, i) => NOW - 10n * DAY + BigInt(i) * 12n * HOUR);

let dir: string;
let archiver: ArchiverProcess;
let A: string[];
let holdId: number;

async function startWithConfig(doc: unknown): Promise<ArchiverProcess> {
  const control = `127.0.0.1:${await freeUdpPort()}`;
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify(doc));
  const child = spawn(process.execPath, [vcrBin, 'archiver', '--dir', join(dir, 'archive'), '--control', control, '--config', config], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const a = new ArchiverProcess(child, join(dir, 'archive'), control);
  await until('the archiver to answer', 20_000, async () => {
    if (!a.running) throw new Error(`archiver exited: ${a.stderr.slice(-2000)}`);
    const c = await ArchiveClient.connect({ archiver: control, timeoutMs: 200, attempts: 1 });
    await c.close();
    return true;
  });
  return a;
}

async function importChannel(channel: string): Promise<void> {
  const path = join(dir, `${channel}.pcap`);
  const frames = TIMES.map((tsNs, i) => ({ tsNs, frame: ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', udp(1000, 2000, Buffer.from(`e${i}`)))) }));
  writeFileSync(path, pcapFile({ endian: 'le', nano: true, linkType: 1 }, frames));
  const r = await vcr(['import', '--pcap', path, '--channel', channel, ...A]);
  expect(r.status, r.stderr).toBe(0);
}

async function payloads(channel: string): Promise<string[]> {
  const r = await vcr(['events', '--channel', channel, '--from', '-30d', '--to', 'now', '--json', ...A]);
  expect(r.status, r.stderr).toBe(0);
  return jsonLines(r.stdout).map((e) => Buffer.from(e.payload as string, 'base64').toString());
}

beforeAll(async () => {
  dir = tempDir('vcr-e2e-ret-');
  archiver = await startWithConfig({ retention: { interval: '1h', channels: { 'ret.a': { maxAge: '5d' } } } });
  A = ['--archiver', archiver.control];
  await importChannel('ret.a');
  await importChannel('ret.b');
  // a hold on events e4, e5 and e6 of ret.a (expired, so the hold is what keeps them)
  const q = await vcr(['quarantine', 'add', '--channel', 'ret.a', '--from', String(TIMES[4]! - 1n), '--to', String(TIMES[6]! + 1n), ...A]);
  expect(q.status, q.stderr).toBe(0);
  holdId = Number(q.stdout.trim());
}, 60_000);

afterAll(async () => {
  await archiver?.kill('SIGKILL');
  await stopAll();
});

describe('vcr retention', () => {
  it('--dry-run prints what would go per channel and interval, and which hold keeps what; nothing is deleted', async () => {
    const r = await vcr(['retention', '--dry-run', '--json', ...A]);
    expect(r.status, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    const summary = lines.pop()!;
    // e0..e10 are older than 5 days (e10 by the time the command runs); e4..e6 are held
    expect(summary).toMatchObject({ dryRun: true, events: 8, bytes: 7 * 2 + 3, channels: 1 }); // 'e0'..'e9' and 'e10'
    const going = lines.filter((l) => l.kind === 'delete');
    expect(going.map((l) => [l.channel, l.events, l.limit])).toEqual([
      ['ret.a', 4, 'maxAge'],
      ['ret.a', 4, 'maxAge'],
    ]);
    expect(going[0]!.toUtcNs).toBe(String(TIMES[4]! - 2n)); // closed interval: up to just before the hold
    expect(going[1]!.fromUtcNs).toBe(String(TIMES[6]! + 2n));
    expect(BigInt(going[1]!.toUtcNs as string)).toBeGreaterThanOrEqual(TIMES[10]!);
    expect(BigInt(going[1]!.toUtcNs as string)).toBeLessThan(TIMES[11]!);
    const held = lines.filter((l) => l.kind === 'held');
    expect(held.map((l) => [l.channel, l.holdId, l.events, l.bytes])).toEqual([['ret.a', holdId, 3, 6]]);
    const text = await vcr(['retention', '--dry-run', ...A]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('would delete');
    expect(text.stdout).toContain(`kept by hold ${holdId}`);
    expect(text.stdout).toContain('8 events (17 bytes) would go from 1 channel');
    expect(await payloads('ret.a')).toHaveLength(20);
  });

  it('run deletes what the dry run listed, keeps the held events and other channels, counts and announces the run', async () => {
    const client = await ArchiveClient.connect({ archiver: archiver.control });
    const seen: Notification[] = [];
    await client.subscribe(NotificationKind.retention, (n) => seen.push(n));
    try {
      const r = await vcr(['retention', 'run', '--json', ...A]);
      expect(r.status, r.stderr).toBe(0);
      const summary = jsonLines(r.stdout).pop()!;
      expect(summary).toMatchObject({ dryRun: false, events: 8, bytes: 17, channels: 1 });
      expect(await payloads('ret.a')).toEqual(['e4', 'e5', 'e6', ...Array.from({ length: 9 }, (_, i) => `e${i + 11}`)]);
      expect(await payloads('ret.b')).toHaveLength(20);
      const ended = await until('the RetentionRunEnded notification', 5000, async () => seen.find((n) => n.type === 'retentionRunEnded'));
      expect(ended).toMatchObject({ type: 'retentionRunEnded', eventsDeleted: 8, bytesDeleted: 17, channels: 1, requested: true, errors: 0 });
    } finally {
      await client.close();
    }
    const status = await vcr(['status', '--json', ...A]);
    expect(status.status, status.stderr).toBe(0);
    const counters = jsonLines(status.stdout)[0]!;
    expect(counters).toMatchObject({ retentionRuns: '1', retentionEventsDeleted: '8', retentionBytesDeleted: '17' });
    expect(Number(counters.retentionLastRunMs)).toBeGreaterThan(Number(NOW / 1_000_000n));
    // a second run finds nothing new
    const again = await vcr(['retention', 'run', ...A]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('0 events (0 bytes) deleted from 0 channels');
    const log = archiver.stderr.split('\n').filter((l) => l.includes('"retention run"'));
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(log[0]!)).toMatchObject({ msg: 'retention run', requested: true, eventsDeleted: 8, bytesDeleted: 17 });
  });

  it('usage errors exit 2; an archiver without retention limits refuses with NOT_ALLOWED', async () => {
    const bare = await vcr(['retention', ...A]);
    expect(bare.status).toBe(2);
    const other = await startArchiver(join(tempDir('vcr-e2e-ret-none-'), 'archive'));
    const r = await vcr(['retention', '--dry-run', '--archiver', other.control]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('NOT_ALLOWED');
  });
});
