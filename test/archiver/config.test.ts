/**
 * Config loading and validation (errors name the key), the Prometheus endpoint, config-listed
 * channels recording at start-up, and the `vcr archiver` command's contract (cluster mode
 * refused with exit 1, bad config exit 1, SIGTERM exits 143 with recordings stopped).
 */
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { applyConfigDocument, defaultConfig, loadConfigFile } from '../../src/archiver/archiver-config.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { runVcr, spawnVcr } from '../helpers/cli.js';
import { RawClient, decodeDescriptor, launchArchiver, removeDir, tempDir, templateOf, until } from './support.js';

function configError(doc: unknown): VcrError {
  try {
    applyConfigDocument(defaultConfig('/tmp/x'), doc);
  } catch (err) {
    return err as VcrError;
  }
  throw new Error('expected a config error');
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('archiver config', () => {
  it('applies every documented key', () => {
    const c = applyConfigDocument(defaultConfig('/d'), {
      control: '0.0.0.0:9000',
      channels: [{ channel: 'a', source: 'udp://127.0.0.1:5000', aliases: ['b'] }],
      notifications: ['udp://239.1.1.1:7000'],
      fileSyncLevel: 2,
      segmentLength: 1 << 20,
      limits: { maxRecordings: 3, maxReplays: 4, maxEventSize: 1000, sessionTimeoutMs: 5000, maxSessions: 9 },
      allowlist: ['127.0.0.1'],
      allowDestructive: false,
      metricsPort: 9100,
      logLevel: 'warn',
      progressIntervalMs: 250,
    });
    expect(c).toMatchObject({
      control: '0.0.0.0:9000',
      fileSyncLevel: 2,
      segmentLength: 1 << 20,
      limits: { maxRecordings: 3, maxReplays: 4, maxEventSize: 1000, sessionTimeoutMs: 5000, maxSessions: 9 },
      allowDestructive: false,
      metricsPort: 9100,
      logLevel: 'warn',
      progressIntervalMs: 250,
    });
    expect(c.channels[0]).toEqual({ channel: 'a', source: 'udp://127.0.0.1:5000', aliases: ['b'] });
  });

  it('rejects bad values with INVALID_ARGUMENT naming the key', () => {
    const cases: [unknown, string][] = [
      [{ contrl: 'x' }, "'contrl'"],
      [{ control: 'localhost' }, "'control'"],
      [{ fileSyncLevel: 3 }, "'fileSyncLevel'"],
      [{ segmentLength: 100_000 }, "'segmentLength'"],
      [{ limits: { maxReplays: -1 } }, "'limits.maxReplays'"],
      [{ limits: { bogus: 1 } }, "'limits.bogus'"],
      [{ channels: [{ channel: 'a' }] }, "'channels[0].source'"],
      [{ notifications: ['tcp://x:1'] }, "'notifications[0]'"],
      [{ allowDestructive: 'yes' }, "'allowDestructive'"],
      [{ logLevel: 'loud' }, "'logLevel'"],
      [[1, 2], "'(root)'"],
    ];
    for (const [doc, key] of cases) {
      const e = configError(doc);
      expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(e.message).toContain(key);
    }
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'bad.json'), '{ not json');
      expect(() => loadConfigFile(defaultConfig(dir), join(dir, 'bad.json'))).toThrow(VcrError);
    } finally {
      removeDir(dir);
    }
  });

  it('records config channels at start-up and serves counters at /metrics', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    s.close();
    const watcher = createSocket('udp4');
    const heard: Buffer[] = [];
    watcher.on('message', (m) => heard.push(m));
    await new Promise<void>((r) => watcher.bind(0, '127.0.0.1', () => r()));
    const { archiver, dir } = await launchArchiver({
      metricsPort: 0,
      channels: [{ channel: 'cfg.chan', source: `udp://127.0.0.1:${port}`, aliases: ['cfg'] }],
      notifications: [`udp://127.0.0.1:${watcher.address().port}`],
    });
    try {
      const c = await RawClient.connect(archiver.controlPort);
      const tx = createSocket('udp4');
      await until('config channel recording', async () => {
        tx.send('hello', port, '127.0.0.1');
        const list = await c.call((ids) =>
          c.proxy.listRecordings(ids, { fromRecordingId: 0, maxCount: 0, states: ['recording'], fromUtcNs: null, toUtcNs: null, channel: 'cfg' }),
        );
        return list.data.length === 1 && decodeDescriptor(list.data[0]!).eventCount > 0;
      });
      tx.close();
      const m = await httpGet(archiver.metricsPort!, '/metrics');
      expect(m.status).toBe(200);
      const events = /^vcr_events (\d+)/m.exec(m.body);
      expect(Number(events?.[1])).toBeGreaterThan(0);
      expect(m.body).toMatch(/^vcr_channel_events\{channel="cfg\.chan"\} [1-9]/m);
      expect(m.body).toMatch(/^vcr_kernel_drops /m);
      expect((await httpGet(archiver.metricsPort!, '/other')).status).toBe(404);
      // the configured notification destination heard the recording start
      await until('RecordingStarted at the notification destination', () => heard.some((m) => templateOf(m) === 200));
      c.close();
    } finally {
      watcher.close();
      await archiver.close();
      removeDir(dir);
    }
  });

  it('drops datagrams from addresses outside the allowlist', async () => {
    const { archiver, dir } = await launchArchiver({ allowlist: ['127.0.0.2'] });
    try {
      const c = await RawClient.bare(archiver.controlPort);
      const corr = c.correlation();
      await expect(c.exchange(c.proxy.connect(corr, 0, '', 'x'), corr, 300)).rejects.toThrow(/timed out/);
      expect(archiver.counters.get('rejected')).toBeGreaterThan(0);
      c.close();
    } finally {
      await archiver.close();
      removeDir(dir);
    }
  });
});

describe('config and protocol apply one set of rules', () => {
  it('refuses allowlist entries that are neither an address nor a CIDR network, naming the entry', () => {
    for (const [entry, key] of [
      ['not-an-ip', "'allowlist[0]'"],
      ['10.0.0.0/33', "'allowlist[0]'"],
      ['fd00::/129', "'allowlist[0]'"],
      ['10.0.0.0/', "'allowlist[0]'"],
    ] as const) {
      const e = configError({ allowlist: [entry] });
      expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(e.message).toContain(key);
    }
    const ok = applyConfigDocument(defaultConfig('/d'), { allowlist: ['10.1.2.3', '10.0.0.0/8', '::1', 'fd00::/8'] });
    expect(ok.allowlist).toHaveLength(4);
  });

  it('lets a client in by CIDR network and drops one outside it', async () => {
    const inside = await launchArchiver({ allowlist: ['127.0.0.0/8'] });
    const outside = await launchArchiver({ allowlist: ['10.0.0.0/8', 'fd00::/8'] });
    try {
      const c = await RawClient.connect(inside.archiver.controlPort);
      expect((await c.call((ids) => c.proxy.stats(ids))).response.ok).toBe(true);
      c.close();
      const d = await RawClient.bare(outside.archiver.controlPort);
      await expect(d.exchange(d.proxy.connect(1n, 0, '', 'x'), 1n, 300)).rejects.toThrow(/timed out/);
      expect(outside.archiver.counters.get('rejected')).toBeGreaterThan(0);
      d.close();
    } finally {
      await inside.archiver.close();
      await outside.archiver.close();
      removeDir(inside.dir);
      removeDir(outside.dir);
    }
  });

  it('refuses config channel names the protocol refuses, naming the entry', () => {
    const cases: [unknown, number, string][] = [
      [{ channels: [{ channel: 'has space', source: 'udp://127.0.0.1:5000' }] }, ErrorCode.INVALID_ARGUMENT, "'channels[0]'"],
      [{ channels: [{ channel: 'tab\tname', source: 'udp://127.0.0.1:5000' }] }, ErrorCode.INVALID_ARGUMENT, "'channels[0]'"],
      [{ channels: [{ channel: 'a', source: 'udp://127.0.0.1:5000', aliases: ['bad alias'] }] }, ErrorCode.INVALID_ARGUMENT, "'channels[0]'"],
      [{ channels: [{ channel: 'a', source: 'udp://127.0.0.1:5000', aliases: Array.from({ length: 33 }, (_, i) => `x${i}`) }] }, ErrorCode.INVALID_ARGUMENT, "'channels[0]'"],
      [{ channels: [{ channel: 'a', source: 'udp://127.0.0.1:5000', aliases: ['a'] }] }, ErrorCode.INVALID_ARGUMENT, "'channels[0]'"],
    ];
    for (const [doc, code, key] of cases) {
      const e = configError(doc);
      expect(e.code).toBe(code);
      expect(e.message).toContain(key);
    }
  });

  it('refuses two config entries recording the same channel, like CHANNEL_ALREADY_RECORDING', () => {
    const same = configError({
      channels: [
        { channel: 'dup', source: 'udp://127.0.0.1:5000' },
        { channel: 'dup', source: 'udp://127.0.0.1:5001' },
      ],
    });
    expect(same.code).toBe(ErrorCode.CHANNEL_ALREADY_RECORDING);
    expect(same.message).toContain("'channels[1]'");
    const overlap = configError({
      channels: [
        { channel: 'one', source: 'udp://127.0.0.1:5000', aliases: ['shared'] },
        { channel: 'two', source: 'udp://127.0.0.1:5001', aliases: ['shared'] },
      ],
    });
    expect(overlap.code).toBe(ErrorCode.CHANNEL_ALREADY_RECORDING);
    const aliasIsOther = configError({
      channels: [
        { channel: 'one', source: 'udp://127.0.0.1:5000', aliases: ['two'] },
        { channel: 'two', source: 'udp://127.0.0.1:5001' },
      ],
    });
    expect(aliasIsOther.code).toBe(ErrorCode.CHANNEL_ALREADY_RECORDING);
  });

  it('refuses at start-up a config channel whose alias belongs to another channel in the archive', async () => {
    const first = await launchArchiver();
    const file = join(first.dir, 'x.txt');
    writeFileSync(file, 'x\n');
    const c = await RawClient.connect(first.archiver.controlPort);
    expect((await c.call((ids) => c.proxy.startRecording(ids, 'owner', `file://${file}`, ['taken']))).response.ok).toBe(true);
    c.close();
    await first.archiver.close();
    try {
      await expect(
        launchArchiver({ channels: [{ channel: 'intruder', source: 'udp://127.0.0.1:0', aliases: ['taken'] }] }, first.dir),
      ).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining("'channels[0]'") });
    } finally {
      removeDir(first.dir);
    }
  });
});

describe('vcr archiver command', () => {
  it('refuses a missing cluster file and bad config files with exit 1 and a clear message', () => {
    const dir = tempDir();
    try {
      const cluster = runVcr(['archiver', '--dir', dir, '--cluster', join(dir, 'c.json'), '--node', 'a']);
      expect(cluster.status).toBe(1);
      expect(cluster.stderr).toMatch(/INVALID_CLUSTER_CONFIG/);
      writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ limits: { maxReplays: 'many' } }));
      const bad = runVcr(['archiver', '--dir', dir, '--config', join(dir, 'cfg.json')]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/limits\.maxReplays/);
      expect(runVcr(['archiver']).status).toBe(2);
      writeFileSync(join(dir, 'src.json'), JSON.stringify({ channels: [{ channel: 'x', source: 'bogus://nothing' }] }));
      const badSource = runVcr(['archiver', '--dir', join(dir, 'a'), '--control', '127.0.0.1:0', '--config', join(dir, 'src.json')], { timeoutMs: 10_000 });
      expect(badSource.status).toBe(1);
      expect(badSource.stderr).toMatch(/INVALID_SOURCE/);
    } finally {
      removeDir(dir);
    }
  });

  it('stops cleanly on SIGTERM: exit 143 (128 + SIGTERM) and the recording left stopped', async () => {
    const base = tempDir();
    const dir = join(base, 'a');
    const child = spawnVcr(['archiver', '--dir', dir, '--control', '127.0.0.1:0']);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const port = await until('started', () => Number(/"control":"127\.0\.0\.1:(\d+)"/.exec(err)?.[1]) || undefined, 15_000);
      const c = await RawClient.connect(port);
      writeFileSync(join(base, 'f.txt'), 'x\n');
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const udpPort = s.address().port;
      s.close();
      const r = await c.call((ids) => c.proxy.startRecording(ids, 'term', `udp://127.0.0.1:${udpPort}`, []));
      expect(r.response.ok).toBe(true);
      c.close();
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((res) => child.once('exit', (x) => res(x)));
      expect(code).toBe(143);
      expect(err).toMatch(/"msg":"recording stopped"/);
      expect(err).toMatch(/"reason":"SHUTDOWN"/);
      const archive = Archive.open(dir, { readOnly: true });
      const [rec] = archive.listRecordings();
      archive.close();
      expect(rec).toMatchObject({ recordingId: Number(r.response.relevantId), lifecycle: 'stopped', cleanStop: true });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      removeDir(base);
    }
  });
});
