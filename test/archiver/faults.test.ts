/**
 * Faults against a real `vcr archiver` process: SIGKILL while recording a UDP stream (every
 * event the archiver had reported as recorded is there after a restart), and a disk that
 * fills up (that recording stops with STORAGE_FULL; the archiver keeps answering and what was
 * stored stays readable).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/util/errors.js';
import { spawnVcr } from '../helpers/cli.js';
import { RawClient, decodeDescriptor, decodeProgress, decodeStopped, readAll, removeDir, tempDir, templateOf, until } from './support.js';

async function startArchiverProcess(dir: string, config: object): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const cfg = join(dir, '..', `${Date.now()}-${Math.random()}.json`);
  writeFileSync(cfg, JSON.stringify(config));
  const child = spawnVcr(['archiver', '--dir', dir, '--control', '127.0.0.1:0', '--config', cfg]);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await until(
    'archiver started',
    () => {
      const m = /"control":"127\.0\.0\.1:(\d+)".*"msg":"archiver started"/.exec(err);
      if (child.exitCode !== null) throw new Error(`archiver exited ${child.exitCode}: ${err}`);
      return m ? Number(m[1]) : undefined;
    },
    15_000,
  );
  return { child, port, stderr: () => err };
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('archiver process faults', () => {
  it('keeps everything it reported as recorded across SIGKILL and restart', async () => {
    const base = tempDir();
    const dir = join(base, 'archive');
    let { child, port } = await startArchiverProcess(dir, { progressIntervalMs: 20 });
    try {
      const c = await RawClient.connect(port);
      await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x2));
      const udpPort = await freeUdpPort();
      const start = await c.call((ids) => c.proxy.startRecording(ids, 'killed', `udp://127.0.0.1:${udpPort}`, []));
      expect(start.response.ok).toBe(true);
      const recordingId = Number(start.response.relevantId);
      const tx = createSocket('udp4');
      let seq = 0;
      let reportedPosition = 0;
      let reportedEvents = 0;
      const deadline = Date.now() + 1500;
      while (Date.now() < deadline) {
        for (let i = 0; i < 200; i++) tx.send(`seq-${String(seq++).padStart(8, '0')}`, udpPort, '127.0.0.1');
        // the position request's round trip paces the sender
        const pos = await c.call((ids) => c.proxy.recordingPosition(ids, recordingId));
        reportedPosition = Math.max(reportedPosition, Number(pos.response.relevantId));
      }
      for (const n of c.notifications.filter((m) => templateOf(m) === 201).map(decodeProgress)) {
        reportedPosition = Math.max(reportedPosition, n.position);
        reportedEvents = Math.max(reportedEvents, n.eventCount);
      }
      child.kill('SIGKILL');
      await exited(child);
      tx.close();
      c.close();
      expect(reportedEvents).toBeGreaterThan(100);

      ({ child, port } = await startArchiverProcess(dir, {}));
      const c2 = await RawClient.connect(port);
      const d = decodeDescriptor((await c2.call((ids) => c2.proxy.describeRecording(ids, recordingId))).data[0]!);
      expect(d.stopPosition).toBeGreaterThanOrEqual(reportedPosition);
      expect(d.eventCount).toBeGreaterThanOrEqual(reportedEvents);
      const { payloads } = await readAll(c2, recordingId);
      expect(payloads.length).toBe(d.eventCount);
      const seqs = payloads.map((p) => Number(p.toString().slice(4)));
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
      c2.close();
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(143); // 128 + SIGTERM, after a clean stop
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      removeDir(base);
    }
  });

  it('stops only the recording whose disk filled up, and keeps serving', async () => {
    const base = tempDir();
    const mnt = join(base, 'tiny');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    } catch {
      removeDir(base);
      throw new Error('this test needs root to mount a 4 MiB tmpfs');
    }
    const dir = join(mnt, 'archive');
    let child: ChildProcess | undefined;
    try {
      const started = await startArchiverProcess(dir, { segmentLength: 65536 });
      child = started.child;
      const c = await RawClient.connect(started.port);
      await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
      const udpPort = await freeUdpPort();
      const start = await c.call((ids) => c.proxy.startRecording(ids, 'filler', `udp://127.0.0.1:${udpPort}`, []));
      expect(start.response.ok).toBe(true);
      const recordingId = Number(start.response.relevantId);
      const tx = createSocket('udp4');
      const payload = Buffer.alloc(1000, 0x42);
      const stopped = await until(
        'RecordingStopped(ERROR)',
        async () => {
          for (let i = 0; i < 100; i++) tx.send(payload, udpPort, '127.0.0.1');
          return c.notifications.find((n) => templateOf(n) === 202);
        },
        20_000,
      );
      tx.close();
      const s = decodeStopped(stopped);
      expect(s.reason).toBe(2); // ERROR
      expect(s.errorCode).toBe(ErrorCode.STORAGE_FULL);
      expect(s.eventCount).toBeGreaterThan(1000);
      // still serving: stats, describe, and every stored event reads back
      const stats = await c.call((ids) => c.proxy.stats(ids));
      expect(stats.response.ok).toBe(true);
      const { payloads } = await readAll(c, recordingId);
      expect(payloads.length).toBe(s.eventCount);
      expect(payloads.every((p) => p.equals(payload))).toBe(true);
      const again = await c.call((ids) => c.proxy.startRecording(ids, 'other', `udp://127.0.0.1:${udpPort}`, []));
      expect(again.response.ok || again.response.errorCode === ErrorCode.STORAGE_FULL).toBe(true);
      c.close();
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(143); // 128 + SIGTERM, after a clean stop
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      if (child) await exited(child);
      try {
        execFileSync('umount', [mnt]);
      } catch {
        // left mounted: nothing more to do in a test
      }
      removeDir(base);
    }
  });
});
