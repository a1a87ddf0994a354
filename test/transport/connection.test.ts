import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isVcrError } from '../../src/util/errors.js';
import { Connection, ConnectionState, TransportServer, type ConnectionOptions } from '../../src/transport/index.js';
import { until } from '../helpers/wait.js';
import { checkPayload, connectedPair, payload, pollUntil, rawConnect, wire, type ClientMode, type Pair } from './helpers.js';

const pairs: Pair[] = [];
async function pair(serverOptions: ConnectionOptions = {}, clientOptions: ConnectionOptions = {}): Promise<Pair> {
  const p = await connectedPair(serverOptions, clientOptions, mode);
  pairs.push(p);
  return p;
}
afterEach(() => {
  for (const p of pairs.splice(0)) p.close();
});

/** A deterministic pseudo-random sequence (tests must be repeatable). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

let mode: ClientMode = 'slab';

describe.each(['slab', 'chunk'] as const)('Connection over loopback (connecting side reads in %s mode)', (m) => {
  beforeEach(() => {
    mode = m;
  });

  it('carries frames of mixed sizes both ways, in order and intact (frames larger than one socket read included)', async () => {
    const { accepted, client } = await pair();
    const rnd = prng(7);
    const sizes = Array.from({ length: 400 }, (_, i) => (i % 50 === 0 ? 200_000 + Math.floor(rnd() * 100_000) : 8 + Math.floor(rnd() * 3000)));
    sizes.forEach((s, i) => expect(client.send(payload(i, s))).toBe(true));
    for (let i = 0; i < 10; i++) accepted.send(payload(i, 100 + i));
    const got: number[] = [];
    await pollUntil('all frames at the server', accepted, (b, o, l) => got.push(checkPayload(b, o, l)), () => got.length === sizes.length);
    expect(got).toEqual(sizes.map((_, i) => i));
    const back: number[] = [];
    await pollUntil('frames at the client', client, (b, o, l) => back.push(checkPayload(b, o, l)), () => back.length === 10);
    expect(back).toEqual([...Array(10).keys()]);
    expect(client.stats.framesSent).toBe(400);
    expect(accepted.stats.framesReceived).toBe(400);
  });

  it('reassembles frames whose bytes arrive in separate reads, the length prefix split too', async () => {
    const server = new TransportServer('127.0.0.1:0');
    const port = await server.listen();
    const raw = await rawConnect(port);
    let conn: Connection | undefined;
    await until('accept', () => server.poll((c) => (conn = c)) > 0);
    const bytes = Buffer.concat([wire(payload(1, 10)), wire(payload(2, 70_000)), wire(payload(3, 8))]);
    // cut points inside the first prefix, inside a payload, and inside the last prefix
    const cuts = [0, 1, 3, 5, 14, 16, 17, 40_000, 70_017, 70_018, 70_020, 70_022, 70_030, bytes.length];
    const got: number[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      raw.write(bytes.subarray(cuts[i], cuts[i + 1]));
      // wait until this piece has been read on its own before sending the next
      await until('piece read', () => conn!.stats.bytesReceived === cuts[i + 1]);
      conn!.poll((b, o, l) => got.push(checkPayload(b, o, l)));
    }
    expect(got).toEqual([1, 2, 3]);
    raw.destroy();
    conn!.abort('done');
    server.close();
  });

  it('refuses an oversized frame: closes the connection with REQUEST_TOO_LARGE, frames before it delivered', async () => {
    const server = new TransportServer('127.0.0.1:0', { connection: { maxFrameLength: 1024 } });
    const port = await server.listen();
    const raw = await rawConnect(port);
    const rawClosed = new Promise<void>((r) => raw.on('close', () => r()));
    raw.on('error', () => {});
    let conn: Connection | undefined;
    await until('accept', () => server.poll((c) => (conn = c)) > 0);
    const big = Buffer.alloc(4);
    big.writeUInt32LE(1025, 0);
    raw.write(Buffer.concat([wire(payload(1, 1024)), big, Buffer.alloc(1025)]));
    const got: number[] = [];
    await pollUntil('closed', conn!, (b, o, l) => got.push(checkPayload(b, o, l)), () => conn!.state === ConnectionState.CLOSED);
    conn!.poll((b, o, l) => got.push(checkPayload(b, o, l)));
    expect(got).toEqual([1]);
    expect(isVcrError(conn!.error, ErrorCode.REQUEST_TOO_LARGE)).toBe(true);
    await rawClosed;
    server.close();
  });

  it('refuses to send a payload outside 8..maxFrameLength, and sends nothing once closed', async () => {
    const { client } = await pair({}, { maxFrameLength: 100 });
    expect(() => client.send(Buffer.alloc(7))).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => client.send(Buffer.alloc(101))).toThrow(expect.objectContaining({ code: ErrorCode.REQUEST_TOO_LARGE }));
    client.close('done');
    expect(client.send(Buffer.alloc(8))).toBe(false);
    expect(client.trySend(Buffer.alloc(8))).toBe(false);
    expect(client.tryClaim(8)).toBe(-1);
  });

  it('encodes in place with claim/commit, committing less than claimed', async () => {
    const { accepted, client } = await pair();
    for (let i = 0; i < 1000; i++) {
      const at = client.tryClaim(500);
      expect(at).toBeGreaterThanOrEqual(0);
      payload(i, 8 + (i % 400)).copy(client.claimBuffer, at);
      client.commit(8 + (i % 400));
    }
    const got: number[] = [];
    await pollUntil('all frames', accepted, (b, o, l) => got.push(checkPayload(b, o, l)), () => got.length === 1000);
    expect(got).toEqual([...Array(1000).keys()]);
  });

  it('back-pressure: a reader that stops reading makes writable false and the sender\'s buffered bytes stay bounded; onDrain resumes it', async () => {
    const FRAME = 64 * 1024;
    const HWM = 1024 * 1024;
    let drains = 0;
    const { accepted, client } = await pair({ highWaterMark: HWM, onDrain: () => drains++ }, { maxInboundBytes: 256 * 1024 });
    let sent = 0;
    let maxBuffered = 0;
    let limit = Number.MAX_SAFE_INTEGER;
    const produce = (): void => {
      while (sent < limit && accepted.trySend(payload(sent, FRAME))) {
        sent++;
        maxBuffered = Math.max(maxBuffered, accepted.bufferedBytes);
      }
    };
    // the client does not poll: the sender fills the kernel buffers, then its own, then stops
    // (kernel buffers may still grow for a while: wait until nothing more is taken for 20 checks)
    let last = -1;
    let still = 0;
    await until('the sender is held back for good', () => {
      produce();
      still = sent === last && !accepted.writable ? still + 1 : 0;
      last = sent;
      return still >= 20 && client.isReadPaused;
    }, 20_000, 5);
    expect(sent).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(HWM + FRAME + 4);
    expect(accepted.bufferedBytes).toBeGreaterThanOrEqual(HWM);
    // the paused reader holds at most its limit plus one socket read plus one frame
    expect(client.inboundBytes).toBeLessThanOrEqual(256 * 1024 + 64 * 1024 + FRAME + 4);
    const stalledAt = sent;
    const drainsAtStall = drains;
    // the reader catches up: onDrain fires, the sender resumes, everything arrives in order
    const total = stalledAt + 200;
    limit = total;
    const got: number[] = [];
    await until('all frames read', () => {
      produce();
      client.poll((b, o, l) => got.push(checkPayload(b, o, l)), 16);
      return got.length === total;
    }, 30_000, 1);
    expect(got).toEqual([...Array(total).keys()]);
    expect(drains).toBeGreaterThan(drainsAtStall);
    expect(maxBuffered).toBeLessThanOrEqual(HWM + FRAME + 4);
  });

  it('a slow reader pauses its socket above its inbound limit and resumes as it drains, losing nothing', async () => {
    const LIMIT = 128 * 1024;
    const { accepted, client } = await pair({}, { maxInboundBytes: LIMIT });
    const N = 3000;
    for (let i = 0; i < N; i++) accepted.send(payload(i, 1000));
    await until('the reader pauses', () => client.isReadPaused);
    let maxQueued = 0;
    const got: number[] = [];
    let pauses = 0;
    let wasPaused = true;
    await until('all frames read slowly', () => {
      client.poll((b, o, l) => got.push(checkPayload(b, o, l)), 20);
      maxQueued = Math.max(maxQueued, client.inboundBytes);
      if (client.isReadPaused && !wasPaused) pauses++;
      wasPaused = client.isReadPaused;
      return got.length === N;
    }, 30_000, 1);
    expect(got).toEqual([...Array(N).keys()]);
    expect(maxQueued).toBeLessThanOrEqual(LIMIT + 64 * 1024 + 1004);
    expect(pauses).toBeGreaterThan(0);
    expect(client.isReadPaused).toBe(false);
  });

  it('closes cleanly: the peer gets every frame sent before close, then sees the close without error', async () => {
    const { accepted, client } = await pair();
    for (let i = 0; i < 500; i++) client.send(payload(i, 2000));
    client.close('stream over');
    expect(client.state).toBe(ConnectionState.CLOSING);
    expect(client.closeReason).toBe('stream over');
    const got: number[] = [];
    await pollUntil('peer closed', accepted, (b, o, l) => got.push(checkPayload(b, o, l)), () => accepted.state === ConnectionState.CLOSED);
    accepted.poll((b, o, l) => got.push(checkPayload(b, o, l)));
    expect(got).toEqual([...Array(500).keys()]);
    expect(accepted.error).toBeUndefined();
    expect(accepted.closeReason).toBe('closed by the peer');
    await until('sender closed', () => client.state === ConnectionState.CLOSED);
    expect(client.error).toBeUndefined();
  });

  it('onReceive signals queued frames and the close, from the socket callback; a throwing hook closes the connection, never escapes', async () => {
    let signals = 0;
    const { accepted, client } = await pair({ onReceive: () => signals++ });
    client.send(payload(1, 100));
    await until('signalled', () => signals > 0);
    expect(accepted.inboundFrames).toBe(1);
    const before = signals;
    client.close('done');
    await until('close signalled', () => accepted.state === ConnectionState.CLOSED && signals > before);
    const other = await pair({ onReceive: () => {
      throw new Error('owner bug');
    } });
    other.client.send(payload(2, 100));
    await until('closed by the hook', () => other.accepted.state === ConnectionState.CLOSED);
    expect(isVcrError(other.accepted.error, ErrorCode.GENERIC)).toBe(true);
  });

  it('a peer that closes in the middle of a frame leaves MALFORMED_MESSAGE', async () => {
    const server = new TransportServer('127.0.0.1:0');
    const port = await server.listen();
    const raw = await rawConnect(port);
    let conn: Connection | undefined;
    await until('accept', () => server.poll((c) => (conn = c)) > 0);
    raw.end(wire(payload(1, 100)).subarray(0, 50));
    await until('closed', () => conn!.state === ConnectionState.CLOSED);
    expect(isVcrError(conn!.error, ErrorCode.MALFORMED_MESSAGE)).toBe(true);
    server.close();
  });

  it('an aborted peer closes the other side; its error, if any, is an IO_ERROR', async () => {
    const { accepted, client } = await pair();
    client.abort('gone');
    await until('closed', () => accepted.state === ConnectionState.CLOSED);
    expect(accepted.error === undefined || isVcrError(accepted.error, ErrorCode.IO_ERROR)).toBe(true);
    expect(client.state).toBe(ConnectionState.CLOSED);
  });

  it('garbage from many peers never crashes anything: each connection ends with a coded error or clean, and the server keeps serving', async () => {
    const server = new TransportServer('127.0.0.1:0', { connection: { maxFrameLength: 4096 } });
    const port = await server.listen();
    const rnd = prng(99);
    const conns: Connection[] = [];
    for (let k = 0; k < 20; k++) {
      const raw = await rawConnect(port);
      raw.on('error', () => {});
      const n = 1 + Math.floor(rnd() * 2000);
      const junk = Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
      // some peers send plausible lengths followed by junk
      if (k % 3 === 0) junk.writeUInt32LE(8 + Math.floor(rnd() * 100), 0);
      raw.end(junk);
    }
    const frames: number[] = [];
    await until('all garbage connections closed', () => {
      server.poll((c) => conns.push(c));
      for (const c of conns) c.poll((_b, _o, l) => frames.push(l));
      return conns.length === 20 && conns.every((c) => c.state === ConnectionState.CLOSED);
    });
    for (const c of conns) {
      if (c.error) expect([ErrorCode.MALFORMED_MESSAGE, ErrorCode.REQUEST_TOO_LARGE, ErrorCode.IO_ERROR]).toContain(c.error.code);
    }
    expect(frames.every((l) => l >= 8 && l <= 4096)).toBe(true);
    // a well-behaved client is still served
    const raw = await rawConnect(port);
    const good = new Connection(raw);
    let conn: Connection | undefined;
    await until('accept', () => server.poll((c) => (conn = c)) > 0);
    good.send(payload(5, 64));
    const got: number[] = [];
    await pollUntil('frame', conn!, (b, o, l) => got.push(checkPayload(b, o, l)), () => got.length === 1);
    expect(got).toEqual([5]);
    good.abort('done');
    conn!.abort('done');
    server.close();
  });
});
