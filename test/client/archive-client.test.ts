import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { NotificationKind, type Notification } from '../../src/client/notifications.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { FakeArchiver, T, makeRecording } from './fake-archiver.js';
import { until } from '../helpers/wait.js';

let fake: FakeArchiver;
let client: ArchiveClient | null = null;

beforeEach(async () => {
  fake = await FakeArchiver.start();
});

afterEach(async () => {
  await client?.close();
  client = null;
  await fake.close();
});

const connect = async (timeoutMs = 80, attempts = 4) => {
  client = await ArchiveClient.connect({ archiver: fake.endpoint, timeoutMs, attempts, clientName: 'test' });
  return client;
};

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VcrError);
    return (err as VcrError).code;
  }
  throw new Error('expected a rejection');
}

const payloads = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => Buffer.from(`${prefix}-${i}`));

describe('ArchiveClient against a fake archiver over real UDP', () => {
  it('connects and gets the session id the archiver allocated', async () => {
    fake.sessionId = 1234;
    const c = await connect();
    expect(c.sessionId).toBe(1234);
    expect(fake.of(T.connect)).toHaveLength(1);
  });

  it('re-sends a request whose answer was lost with the same correlationId, and gets the answer once', async () => {
    const c = await connect();
    let dropped = 0;
    fake.mangle = (req, d) => (req.templateId === T.startRecording && dropped++ === 0 ? [] : d);
    const id = await c.startRecording({ channel: 'a', source: 'udp://127.0.0.1:9999', aliases: ['b'] });
    expect(id).toBe(42);
    const sent = fake.of(T.startRecording);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.correlationId).toBe(sent[0]!.correlationId);
    expect(sent[1]!.bytes.equals(sent[0]!.bytes)).toBe(true);
    expect(c.retryCount).toBe(1);
  });

  it('fails with TIMEOUT after the configured attempts when nothing answers', async () => {
    const c = await connect(40, 3);
    fake.mangle = (req, d) => (req.templateId === T.stopRecording ? [] : d);
    expect(await codeOf(c.stopRecording({ channel: 'x' }))).toBe(ErrorCode.TIMEOUT);
    const sent = fake.of(T.stopRecording);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((r) => r.correlationId)).size).toBe(1);
  });

  it('reports an archiver that is not there as TIMEOUT on connect', async () => {
    const port = fake.socket.address().port;
    await fake.close();
    fake = await FakeArchiver.start(); // keep afterEach happy; the old port is now unbound
    const started = Date.now();
    const err = await codeOf(ArchiveClient.connect({ archiver: `127.0.0.1:${port}`, timeoutMs: 30, attempts: 2 }));
    expect(err).toBe(ErrorCode.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('turns an ERROR response into a VcrError with the wire code', async () => {
    const c = await connect();
    fake.errorFor.set(T.describe, { code: ErrorCode.UNKNOWN_RECORDING, times: 1 });
    expect(await codeOf(c.describeRecording(99))).toBe(ErrorCode.UNKNOWN_RECORDING);
  });

  it('accepts data messages that arrive after their final response and out of order', async () => {
    const c = await connect();
    for (let i = 0; i < 3; i++) fake.recordings.set(i, makeRecording(i, `ch${i}`, payloads(1, 'p'), [100n]));
    fake.mangle = (req, d) => (req.templateId === T.listRecordings ? [d[d.length - 1]!, ...d.slice(0, -1).reverse()] : d);
    const list = await c.listRecordings();
    expect(list.map((r) => r.recordingId)).toEqual([0, 1, 2]);
    expect(list.map((r) => r.channel)).toEqual(['ch0', 'ch1', 'ch2']);
    expect(fake.of(T.listRecordings)).toHaveLength(1);
  });

  it('re-asks (same correlationId) when fewer data messages came than the response announces', async () => {
    const c = await connect();
    for (let i = 0; i < 3; i++) fake.recordings.set(i, makeRecording(i, 'ch', payloads(1, 'p'), [100n]));
    let first = true;
    fake.mangle = (req, d) => {
      if (req.templateId !== T.listRecordings || !first) return d;
      first = false;
      return [d[0]!, d[2]!, d[3]!]; // descriptor 1 lost
    };
    const list = await c.listRecordings({ channel: 'ch' });
    expect(list.map((r) => r.recordingId)).toEqual([0, 1, 2]);
    const sent = fake.of(T.listRecordings);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.correlationId).toBe(sent[0]!.correlationId);
  });

  it('ignores garbage datagrams and still gets its answer', async () => {
    const c = await connect();
    fake.mangle = (req, d) => (req.templateId === T.position ? [Buffer.from('garbage!!'), Buffer.alloc(3), ...d] : d);
    expect(await c.recordingPosition(0)).toBe(42);
    expect(c.malformedCount).toBe(2);
  });

  it('opens a new session and asks again when the archiver no longer knows the session', async () => {
    const c = await connect();
    fake.errorFor.set(T.position, { code: ErrorCode.UNKNOWN_SESSION, times: 1 });
    fake.sessionId = 8;
    expect(await c.recordingPosition(3)).toBe(42);
    expect(fake.of(T.connect)).toHaveLength(2);
    expect(c.sessionId).toBe(8);
  });

  it('reads a recording reliably: whole events, a large event in fragments, lost chunks re-asked', async () => {
    const c = await connect();
    const big = Buffer.alloc(3500, 7);
    big.write('start');
    const data = [Buffer.from('one'), big, Buffer.from('three')];
    fake.recordings.set(0, makeRecording(0, 'r', data, [10n, 20n, 30n]));
    let reads = 0;
    fake.mangle = (req, d) => (req.templateId === T.read && reads++ % 3 === 1 ? [d[1]!] : d); // every 3rd: chunk lost
    const got = [];
    for await (const e of c.read({ recordingId: 0 })) got.push(e);
    expect(got.map((e) => e.payload)).toEqual(data);
    expect(got.map((e) => e.utcNs)).toEqual([10n, 20n, 30n]);
    expect(got.every((e) => e.channel === 'r' && e.recordingId === 0)).toBe(true);
    expect(c.retryCount).toBeGreaterThan(0);
  });

  it('merges several channels by (utcNs, recordingId, position) within the interval', async () => {
    const c = await connect();
    fake.recordings.set(0, makeRecording(0, 'a', payloads(4, 'a'), [10n, 20n, 30n, 40n]));
    fake.recordings.set(1, makeRecording(1, 'b', payloads(4, 'b'), [15n, 20n, 35n, 50n]));
    fake.recordings.set(2, makeRecording(2, 'zzz', payloads(2, 'z'), [16n, 17n]));
    const got: string[] = [];
    for await (const e of c.events({ channels: ['a', 'b'], fromUtcNs: 20n, toUtcNs: 40n })) got.push(`${e.channel}:${e.payload}@${e.utcNs}`);
    expect(got).toEqual(['a:a-1@20', 'b:b-1@20', 'a:a-2@30', 'b:b-2@35', 'a:a-3@40']);
  });

  it('delivers notifications to subscribers', async () => {
    const c = await connect();
    const seen: Notification[] = [];
    await c.subscribe(NotificationKind.recording, (n) => seen.push(n));
    const sub = fake.of(T.subscribe);
    expect(sub).toHaveLength(1);
    fake.notifyRecordingStarted(sub[0]!.from, 5, 'radar');
    await until('the notification', () => seen.length > 0);
    expect(seen).toEqual([expect.objectContaining({ type: 'recordingStarted', recordingId: 5, channel: 'radar' })]);
  });

  it('sends keep-alives while idle', async () => {
    client = await ArchiveClient.connect({ archiver: fake.endpoint, keepAliveTimeoutMs: 60, dutyCycleMs: 5 });
    await until('two keep-alives', () => fake.of(T.keepAlive).length >= 2, 2000);
  });

  it('correlates many requests in flight at once, some of whose answers are lost', async () => {
    const c = await connect(60, 5);
    for (let i = 0; i < 30; i++) fake.recordings.set(i, makeRecording(i, `c${i}`, payloads(1, 'p'), [BigInt(100 + i)]));
    let n = 0;
    fake.mangle = (req, d) => (req.templateId === T.describe && n++ % 4 === 0 ? [] : d);
    const got = await Promise.all(Array.from({ length: 30 }, (_, i) => c.describeRecording(i)));
    expect(got.map((d) => d.channel)).toEqual(Array.from({ length: 30 }, (_, i) => `c${i}`));
    expect(c.retryCount).toBeGreaterThan(0);
  });

  it('lists more recordings than one page', async () => {
    const c = await connect();
    for (let i = 0; i < 230; i++) fake.recordings.set(i, makeRecording(i, 'many', payloads(1, 'p'), [1n]));
    const list = await c.listRecordings({ channel: 'many' });
    expect(list.map((d) => d.recordingId)).toEqual(Array.from({ length: 230 }, (_, i) => i));
    // three pages asked for (a retry under load repeats a page's correlationId, not a page)
    expect(new Set(fake.of(T.listRecordings).map((r) => r.correlationId)).size).toBe(3);
  });

  it('rejects a bad archiver endpoint with INVALID_ARGUMENT', async () => {
    expect(await codeOf(ArchiveClient.connect({ archiver: 'nonsense' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(ArchiveClient.connect({ archiver: '127.0.0.1:99999' }))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('does not keep the process alive when idle (socket unref)', async () => {
    // a child process that connects and never closes must still exit on its own
    const { spawn } = await import('node:child_process');
    const script = `
      const { ArchiveClient } = await import(${JSON.stringify(new URL('../../dist/src/client/archive-client.js', import.meta.url).href)});
      await ArchiveClient.connect({ archiver: ${JSON.stringify(fake.endpoint)} });
      console.log('connected');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const status = await new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    clearTimeout(killer);
    const r = { stdout, status };
    expect(r.stdout.trim()).toBe('connected');
    expect(r.status).toBe(0);
  });
});
