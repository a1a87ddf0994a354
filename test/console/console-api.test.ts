/**
 * The console's server side without a browser: the EventRates and DeletePreview control
 * requests over the wire (client library), the HTTP gates (allowlist, Host header), and where
 * the HTTP server listens by default.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { httpEndpoint } from '../../src/archiver/http/http-endpoint.js';
import { ErrorCode } from '../../src/util/errors.js';
import { launchArchiver, removeDir } from '../archiver/support.js';
import { Udp, record } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function archiverWithClient(doc: Record<string, unknown> = {}): Promise<{ port: number; client: ArchiveClient }> {
  const { archiver, dir } = await launchArchiver({ http: '127.0.0.1:0', ...doc });
  const client = await ArchiveClient.connect({ archiver: `127.0.0.1:${archiver.controlPort}`, timeoutMs: 2000 });
  cleanups.push(async () => {
    await client.close();
    await archiver.close();
    removeDir(dir);
  });
  return { port: archiver.metricsPort!, client };
}

describe('console control requests', () => {
  it('EventRates: the buckets add up to the recording, from the time index, and nothing outside it', async () => {
    const { client } = await archiverWithClient();
    const tx = await Udp.open();
    cleanups.push(() => tx.close());
    const r = await record(client, tx, 'rates', Array.from({ length: 50 }, (_, i) => `event ${i}`));
    const d = await client.describeRecording(r.recordingId);
    const span = d.stopUtcNs - d.startUtcNs;
    const [rates] = await client.eventRates({ fromUtcNs: d.startUtcNs - span, toUtcNs: d.stopUtcNs + span, buckets: 30 });
    expect(rates!.channel).toBe('rates');
    expect(rates!.bytes).toHaveLength(30);
    expect(rates!.bytes.reduce((a, b) => a + b, 0)).toBe(d.stopPosition - d.startPosition);
    expect(rates!.events.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(48);
    expect(rates!.bytes.slice(0, 9).every((b) => b === 0)).toBe(true);
    // a range with no recording: no channel
    expect(await client.eventRates({ fromUtcNs: 1n, toUtcNs: 1000n, buckets: 4 })).toEqual([]);
    await expect(client.eventRates({ fromUtcNs: 10n, toUtcNs: 10n, buckets: 4 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(client.eventRates({ fromUtcNs: 1n, toUtcNs: 10n, buckets: 5000 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it('DeletePreview: counts what a delete removes, names the holds, deletes nothing; the delete then removes that', async () => {
    const { client } = await archiverWithClient();
    const tx = await Udp.open();
    cleanups.push(() => tx.close());
    const first = await record(client, tx, 'doomed', ['a', 'b', 'c']);
    const second = await record(client, tx, 'doomed', ['kept']);
    const holdId = await client.addQuarantine({ channel: 'doomed', fromUtcNs: second.startUtcNs, toUtcNs: second.stopUtcNs });
    const p = await client.deletePreview({ channel: 'doomed', fromUtcNs: first.startUtcNs, toUtcNs: second.stopUtcNs });
    expect(p).toMatchObject({ events: 3, exact: true });
    const d1 = await client.describeRecording(first.recordingId);
    expect(p.bytes).toBe(d1.stopPosition - d1.startPosition);
    expect(p.recordings).toEqual([{ recordingId: first.recordingId, channel: 'doomed', events: 3, bytes: p.bytes }]);
    expect(p.holds.map((h) => h.quarantineId)).toEqual([holdId]);
    expect(p.holds[0]!.protectedBytes).toBeGreaterThan(0);
    expect((await client.describeRecording(first.recordingId)).eventCount).toBe(3);
    expect(await client.deleteEvents({ channel: 'doomed', fromUtcNs: first.startUtcNs, toUtcNs: second.stopUtcNs })).toBe(3);
  });
});

describe('console HTTP server', () => {
  it('answers only clients on the allowlist, and only under an IP address or localhost', async () => {
    const open = await archiverWithClient();
    expect(await get(open.port, '/')).toBe(200);
    expect(await get(open.port, '/api/health', { host: 'evil.example:80' })).toBe(421);
    expect(await get(open.port, '/api/health', { host: `localhost:${open.port}` })).toBe(200);
    // (no control client here: the allowlist refuses this host's control datagrams as well)
    const { archiver, dir } = await launchArchiver({ http: '127.0.0.1:0', allowlist: ['10.9.9.9'] });
    cleanups.push(async () => {
      await archiver.close();
      removeDir(dir);
    });
    expect(await get(archiver.metricsPort!, '/')).toBe(403);
    expect(await get(archiver.metricsPort!, '/metrics')).toBe(403);
  });

  it('listens by default beside the control endpoint (port + 1, any free port for port 0); http or metricsPort when given', () => {
    expect(httpEndpoint({ control: '127.0.0.1:8010', http: undefined, metricsPort: undefined })).toEqual({ host: '127.0.0.1', port: 8011, derived: true });
    expect(httpEndpoint({ control: '10.1.2.3:0', http: undefined, metricsPort: undefined })).toEqual({ host: '10.1.2.3', port: 0, derived: false });
    expect(httpEndpoint({ control: '127.0.0.1:8010', http: '0.0.0.0:9000', metricsPort: undefined })).toEqual({ host: '0.0.0.0', port: 9000, derived: false });
    expect(httpEndpoint({ control: '127.0.0.1:8010', http: undefined, metricsPort: 9100 })).toEqual({ host: '127.0.0.1', port: 9100, derived: false });
    expect(httpEndpoint({ control: '127.0.0.1:8010', http: null, metricsPort: undefined })).toBeUndefined();
  });
});
