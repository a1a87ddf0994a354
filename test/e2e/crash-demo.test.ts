/**
 * End to end: SIGKILL of the archiver while recording, restart on the same directory, and
 * every event the archiver had reported before the kill is there; `vcr demo` exits 0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { freeUdpPort, jsonLines, sendDatagrams, startArchiver, stopAll, tempDir, until, vcr } from './harness.js';

afterAll(async () => {
  await stopAll();
});

describe('archiver killed with SIGKILL while recording', () => {
  it('keeps, after restart, every event it had reported before the kill', async () => {
    const dir = join(tempDir('vcr-e2e-kill-'), 'archive');
    const first = await startArchiver(dir);
    const A = ['--archiver', first.control];
    const port = await freeUdpPort();
    const r = await vcr(['record', 'start', '--channel', 'crash', '--source', `udp://127.0.0.1:${port}`, ...A]);
    expect(r.status).toBe(0);
    const id = Number(r.stdout);
    const payloads = Array.from({ length: 300 }, (_, i) => Buffer.from(`crash event ${i}`));
    // keep sending while the archiver is killed part-way
    const sending = sendDatagrams(port, payloads, payloads.map(() => 2));
    const client = await ArchiveClient.connect({ archiver: first.control });
    const reported = await until('some events recorded', 10_000, async () => {
      const n = (await client.describeRecording(id)).eventCount;
      return n >= 50 ? n : undefined;
    });
    await client.close().catch(() => undefined);
    await first.kill('SIGKILL');
    await sending;

    const second = await startArchiver(dir, first.control);
    const list = await vcr(['query', 'list', '--json', ...A]);
    expect(list.status).toBe(0);
    const [d] = jsonLines(list.stdout);
    expect(d).toMatchObject({ recordingId: id, channel: 'crash' });
    expect(d!.state).not.toBe('recording');
    expect(d!.events as number).toBeGreaterThanOrEqual(reported);

    const ev = await vcr(['events', '--channel', 'crash', '--from', '-10m', '--to', 'now', '--json', ...A]);
    expect(ev.status).toBe(0);
    const got = jsonLines(ev.stdout).map((e) => Buffer.from(e.payload as string, 'base64'));
    expect(got.length).toBeGreaterThanOrEqual(reported);
    expect(got).toEqual(payloads.slice(0, got.length));
    await second.kill('SIGTERM');
  });
});

describe('vcr demo', () => {
  it('runs, explains what it does, and exits 0', async () => {
    const r = await vcr(['demo'], { timeoutMs: 45_000 });
    expect(r.stderr).toMatch(/\[demo 1\] starting an archiver/);
    expect(r.stderr).toMatch(/byte-identical/);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('demo: OK\n');
  });
});
