/**
 * Who may fetch a streamed replay and how one ends: the one-time token is bound to the
 * control session's address and expires unused; wrong tokens, garbage and bad frames are
 * refused without harm; StopReplayRequest, the control session going away, a client that
 * stops iterating and the archiver's shutdown each end a stream as documented; streams count
 * against limits.maxReplays; the stream endpoint is configurable and a taken port fails
 * start-up with ADDRESS_IN_USE.
 */
import { connect, createServer, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageHeaderDecoder, MessageHeaderEncoder, StreamEndDecoder, StreamHelloEncoder } from '../../codecs/generated/stream/index.js';
import { StreamGrantDecoder } from '../../codecs/generated/control/index.js';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ArchiveClient } from '../../src/client/index.js';
import { EventStream } from '../../src/client/event-stream.js';
import type { RecordedEvent } from '../../src/client/types.js';
import { Connection } from '../../src/transport/connection.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { RawClient, decodeReplayEnded, launchArchiver, removeDir, templateOf, until } from './support.js';

interface Grant {
  replaySessionId: number;
  token: bigint;
  host: string;
  port: number;
}

function hello(token: bigint): Buffer {
  const b = Buffer.alloc(8 + StreamHelloEncoder.BLOCK_LENGTH);
  new StreamHelloEncoder().wrapAndApplyHeader(b, 0, new MessageHeaderEncoder()).token(token);
  return b;
}

/** A raw stream connection from localAddress; collects the messages it receives. */
async function rawStream(g: Grant, localAddress = '127.0.0.1'): Promise<{ c: Connection; messages: Buffer[] }> {
  const socket: Socket = connect({ host: g.host, port: g.port, localAddress });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const messages: Buffer[] = [];
  const c = new Connection(socket, { maxFrameLength: 16 * 1024 * 1024 });
  c.onReceive = () => void c.poll((b, o, l) => messages.push(Buffer.from(b.subarray(o, o + l))));
  return { c, messages };
}

function streamEnd(m: Buffer): { reason: number; errorCode: number; eventsSent: number } {
  const d = new StreamEndDecoder().wrapAndApplyHeader(m, 0, new MessageHeaderDecoder());
  return { reason: d.reason() as number, errorCode: d.errorCode(), eventsSent: Number(d.eventsSent()) };
}

const STREAM_END = 102;

describe('streamed replay: tokens, ends and limits', () => {
  let archiver: Archiver | undefined;
  let dir: string | undefined;
  const closers: (() => unknown)[] = [];

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await archiver?.close();
    if (dir) removeDir(dir);
    archiver = undefined;
    dir = undefined;
  });

  async function start(doc: Record<string, unknown> = {}, nanoClock?: ManualClock): Promise<RawClient> {
    ({ archiver, dir } = await launchArchiver(doc, undefined, nanoClock ? { nanoClock } : {}));
    const c = await RawClient.connect(archiver.controlPort, 60_000);
    closers.push(() => c.close());
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
    return c;
  }

  async function recordFile(c: RawClient, channel: string, content: string, follow = false): Promise<number> {
    const file = join(dir!, `${channel}.txt`);
    writeFileSync(file, content);
    const r = await c.call((ids) => c.proxy.startRecording(ids, channel, `file://${file}${follow ? '?separator=%0A&follow=true' : ''}`, []));
    expect(r.response.ok).toBe(true);
    const id = Number(r.response.relevantId);
    if (!follow) await until(`${channel} stopped`, () => c.notifications.some((n) => templateOf(n) === 202 && n.readBigInt64LE(8) === BigInt(id)));
    return id;
  }

  async function grant(c: RawClient, recordingId: number, follow = false): Promise<Grant> {
    const r = await c.call((ids) =>
      c.proxy.streamReplay(ids, { recordingId, position: null, length: null, fromUtcNs: null, toUtcNs: null, follow, channels: [] }),
    );
    expect(r.response.ok).toBe(true);
    const d = new StreamGrantDecoder().wrapAndApplyHeader(r.data[0]!, 0, new MessageHeaderDecoder());
    const [host, port] = d.endpoint().split(':');
    expect(Number(r.response.relevantId)).toBe(Number(d.replaySessionId()));
    return { replaySessionId: Number(d.replaySessionId()), token: d.token(), host: host!, port: Number(port) };
  }

  async function refusedWith(g: Grant, bytes: Buffer, localAddress = '127.0.0.1'): Promise<number> {
    const s = await rawStream(g, localAddress);
    closers.push(() => s.c.abort('test over'));
    s.c.send(bytes);
    s.c.flush();
    const end = await until('StreamEnd', () => s.messages.find((m) => templateOf(m) === STREAM_END));
    await until('closed', () => !s.c.isOpen);
    const e = streamEnd(end);
    expect(e.reason).toBe(2);
    return e.errorCode;
  }

  it('a token works once, only from the address of its control session; strangers and garbage are refused and harm nothing', async () => {
    const c = await start();
    const id = await recordFile(c, 'tok', 't1\nt2\nt3\n');
    const g = await grant(c, id);
    expect(await refusedWith(g, hello(g.token), '127.0.0.2')).toBe(ErrorCode.SESSION_ADDRESS_MISMATCH);
    expect(await refusedWith(g, hello(g.token ^ 1n))).toBe(ErrorCode.NOT_ALLOWED);
    const notHello = Buffer.from(hello(g.token));
    notHello.writeUInt16LE(7, 2); // another template
    expect(await refusedWith(g, notHello)).toBe(ErrorCode.UNKNOWN_TEMPLATE);
    const foreign = Buffer.from(hello(g.token));
    foreign.writeUInt16LE(101, 4); // the control schema
    expect(await refusedWith(g, foreign)).toBe(ErrorCode.MALFORMED_MESSAGE);
    // a frame length far beyond what a hello may be: the connection is dropped at once
    const raw = connect({ host: g.host, port: g.port });
    closers.push(() => raw.destroy());
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    await new Promise<void>((r) => raw.once('close', () => r()));

    // the rightful client still gets its stream, once
    const s = await rawStream(g);
    closers.push(() => s.c.abort('test over'));
    s.c.send(hello(g.token));
    const end = await until('StreamEnd', () => s.messages.find((m) => templateOf(m) === STREAM_END));
    expect(streamEnd(end)).toEqual({ reason: 1, errorCode: 0, eventsSent: 3 });
    expect(await refusedWith(g, hello(g.token))).toBe(ErrorCode.NOT_ALLOWED);
    expect(archiver!.counters.snapshot().find(([k]) => k === 'rejected')![1]).toBeGreaterThanOrEqual(3);
  });

  it('an unused grant ends after 10 s; its token is then refused', async () => {
    const clock = new ManualClock();
    const c = await start({}, clock);
    const id = await recordFile(c, 'exp', 'e1\n');
    const g = await grant(c, id);
    expect(archiver!.conductor.streams.size).toBe(1);
    clock.advanceMs(9_000);
    // a request is answered from a duty cycle that also stepped the streams at the new time
    await c.call((ids) => c.proxy.stats(ids));
    expect(archiver!.conductor.streams.size).toBe(1);
    clock.advanceMs(2_000);
    await until('the grant expired', () => archiver!.conductor.streams.size === 0);
    expect(await refusedWith(g, hello(g.token))).toBe(ErrorCode.NOT_ALLOWED);
    // never started: no ReplayStarted / ReplayEnded for it
    expect(c.notifications.filter((n) => templateOf(n) === 203 || templateOf(n) === 204)).toEqual([]);
  });

  it('StopReplayRequest ends a stream quietly (REQUESTED), and ReplayEnded says so', async () => {
    const c = await start();
    const id = await recordFile(c, 'stop', 's1\n', true);
    await until('s1', () => c.notifications.some((n) => templateOf(n) === 201));
    const g = await grant(c, id, true);
    const got: RecordedEvent[] = [];
    const stream = new EventStream(async () => g);
    const done = (async () => {
      for await (const e of stream) got.push(e);
    })();
    await until('s1 streamed', () => got.length === 1);
    expect((await c.call((ids) => c.proxy.stopReplay(ids, g.replaySessionId))).response.ok).toBe(true);
    await done;
    expect(stream.endInfo?.reason).toBe('REQUESTED');
    const ended = await until('ReplayEnded', () => c.notifications.find((n) => templateOf(n) === 204));
    expect(decodeReplayEnded(ended)).toMatchObject({ replaySessionId: g.replaySessionId, eventsSent: 1, reason: 0 });
  });

  it('the control session going away ends its streams: the client sees UNKNOWN_SESSION', async () => {
    const c = await start();
    const id = await recordFile(c, 'gone', 'g1\n', true);
    const g = await grant(c, id, true);
    const stream = new EventStream(async () => g);
    expect((await stream.next()).value.payload.toString()).toBe('g1');
    await c.call((ids) => c.proxy.closeSession(ids));
    const err = await stream.next().then(() => undefined, (e: unknown) => e);
    expect(isVcrError(err, ErrorCode.UNKNOWN_SESSION)).toBe(true);
    expect(stream.endInfo?.reason).toBe('CLIENT_GONE');
  });

  it('a client that stops iterating ends the stream in the archiver (CLIENT_GONE)', async () => {
    const c = await start();
    const lines = Array.from({ length: 50_000 }, (_, i) => `line-${i}-${'z'.repeat(100)}`);
    const id = await recordFile(c, 'brk', lines.join('\n'));
    const client = await ArchiveClient.connect({ archiver: `127.0.0.1:${archiver!.controlPort}` });
    closers.push(() => client.close());
    let n = 0;
    for await (const e of client.read({ recordingId: id })) {
      expect(e.payload.toString()).toBe(lines[n]);
      if (++n === 10) break;
    }
    await until('the stream ended', () => archiver!.conductor.streams.size === 0);
    const ended = await until('ReplayEnded', () => c.notifications.find((m) => templateOf(m) === 204));
    expect(decodeReplayEnded(ended).reason).toBe(4);
  });

  it('archiver shutdown ends a stream with SHUTDOWN: the client sees IO_ERROR', async () => {
    const c = await start();
    const id = await recordFile(c, 'shut', 'x1\n', true);
    const g = await grant(c, id, true);
    const stream = new EventStream(async () => g);
    expect((await stream.next()).value.payload.toString()).toBe('x1');
    const closing = archiver!.close();
    const err = await stream.next().then(() => undefined, (e: unknown) => e);
    await closing;
    expect(isVcrError(err, ErrorCode.IO_ERROR)).toBe(true);
    expect(stream.endInfo?.reason).toBe('SHUTDOWN');
  });

  it('streams count against limits.maxReplays', async () => {
    const c = await start({ limits: { maxReplays: 1 } });
    const id = await recordFile(c, 'lim', 'l1\n');
    await grant(c, id);
    const r = await c.call((ids) =>
      c.proxy.streamReplay(ids, { recordingId: id, position: null, length: null, fromUtcNs: null, toUtcNs: null, follow: false, channels: [] }),
    );
    expect(r.response).toMatchObject({ ok: false, errorCode: ErrorCode.MAX_REPLAYS });
    const both = await c.call((ids) =>
      c.proxy.streamReplay(ids, { recordingId: id, position: null, length: null, fromUtcNs: null, toUtcNs: null, follow: false, channels: ['lim'] }),
    );
    expect(both.response.ok).toBe(false);
  });

  it("the stream endpoint is the config's 'stream'; a taken port fails start-up with ADDRESS_IN_USE", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise((r) => taken.close(r)));
    const port = (taken.address() as { port: number }).port;
    const err = await launchArchiver({ stream: `127.0.0.1:${port}` }).then(() => undefined, (e: unknown) => e);
    expect(isVcrError(err, ErrorCode.ADDRESS_IN_USE)).toBe(true);
    const bad = await launchArchiver({ stream: 'example.com:1' }).then(() => undefined, (e: unknown) => e);
    expect(isVcrError(bad, ErrorCode.INVALID_ARGUMENT)).toBe(true);
    await start({ stream: '127.0.0.1:0' });
    expect(archiver!.streamAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
