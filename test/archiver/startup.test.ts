/**
 * Starting an archiver when something is in the way, and what a recording says about where it
 * records from: a control port in use (ADDRESS_IN_USE, and no archive directory left behind), a
 * metrics port in use, a read-only directory (STORAGE_UNWRITABLE naming it), and a UDP source on
 * port 0 whose recording names the port it really bound.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/util/errors.js';
import { vcr } from '../cli/run.js';
import { RawClient, decodeDescriptor, launchArchiver, removeDir, tempDir, templateOf, until } from './support.js';
import { MessageHeaderDecoder, RecordingStartedDecoder } from '../../codecs/generated/control/index.js';

describe('archiver start-up', () => {
  it('fails with ADDRESS_IN_USE when the control port is taken, before creating the archive directory', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', () => r()));
    const base = tempDir();
    const dir = join(base, 'not-yet');
    try {
      await expect(launchArchiver({ control: `127.0.0.1:${taken.address().port}` }, dir)).rejects.toMatchObject({
        code: ErrorCode.ADDRESS_IN_USE,
      });
      expect(existsSync(dir)).toBe(false);
    } finally {
      taken.close();
      removeDir(base);
    }
  });

  it('fails with ADDRESS_IN_USE when the metrics port is taken, and releases the control port', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const metricsPort = (server.address() as { port: number }).port;
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const controlPort = probe.address().port;
    probe.close();
    const dir = tempDir();
    try {
      await expect(launchArchiver({ control: `127.0.0.1:${controlPort}`, metricsPort }, dir)).rejects.toMatchObject({
        code: ErrorCode.ADDRESS_IN_USE,
      });
      // the control port was released: an archiver can start there now
      const { archiver } = await launchArchiver({ control: `127.0.0.1:${controlPort}` }, dir);
      await archiver.close();
    } finally {
      server.close();
      removeDir(dir);
    }
  });

  it('reports STORAGE_UNWRITABLE naming the directory on a read-only filesystem', async () => {
    const base = tempDir();
    const mnt = join(base, 'ro');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt]);
    } catch {
      removeDir(base);
      throw new Error('this test needs root to mount a read-only tmpfs');
    }
    try {
      for (const dir of [join(mnt, 'archive'), mnt]) {
        await expect(launchArchiver({}, dir)).rejects.toMatchObject({
          code: ErrorCode.STORAGE_UNWRITABLE,
          message: expect.stringContaining(dir),
        });
      }
    } finally {
      try {
        execFileSync('umount', [mnt]);
      } catch {
        // left mounted: nothing more to do in a test
      }
      removeDir(base);
    }
  });
});

describe('a UDP source on port 0', () => {
  it('is recorded under the port it bound: descriptor, RecordingStarted and vcr query list', async () => {
    const { archiver, dir } = await launchArchiver();
    const c = await RawClient.connect(archiver.controlPort);
    try {
      await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1));
      const start = await c.call((ids) => c.proxy.startRecording(ids, 'anyport', 'udp://127.0.0.1:0', []));
      expect(start.response.ok).toBe(true);
      const id = Number(start.response.relevantId);
      const d = decodeDescriptor((await c.call((ids) => c.proxy.describeRecording(ids, id))).data[0]!);
      const m = /^udp:\/\/127\.0\.0\.1:(\d+)$/.exec(d.source);
      expect(m).not.toBeNull();
      const port = Number(m![1]);
      expect(port).toBeGreaterThan(0);
      const started = await until('RecordingStarted', () => c.notifications.find((n) => templateOf(n) === 200));
      const dec = new RecordingStartedDecoder().wrapAndApplyHeader(started, 0, new MessageHeaderDecoder());
      dec.channel();
      expect(dec.source()).toBe(d.source);
      // the reported port is the one that records
      const tx = createSocket('udp4');
      await until('an event recorded through the reported port', async () => {
        tx.send('hello', port, '127.0.0.1');
        const p = await c.call((ids) => c.proxy.recordingPosition(ids, id));
        return Number(p.response.relevantId) > 0;
      });
      tx.close();
      const list = await vcr(['query', 'list', '--json', '--archiver', `127.0.0.1:${archiver.controlPort}`]);
      expect(list.status).toBe(0);
      const row = list.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { recordingId: number; source: string })
        .find((r) => r.recordingId === id);
      expect(row?.source).toBe(d.source);
    } finally {
      c.close();
      await archiver.close();
      removeDir(dir);
    }
  });
});
