/**
 * SendBuffer slab reuse: a region handed to the socket is never written again until the
 * socket has written it (its `writableLength` says how far it is), and a connection sending
 * large frames reuses its slabs instead of allocating one per message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SendBuffer, type Connection } from '../../src/transport/index.js';
import { until } from '../helpers/wait.js';
import { checkPayload, connectedPair, payload, type Pair } from './helpers.js';

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

/** A socket that holds what it is given and writes it (in order) when told to. */
class HeldSocket {
  readonly held: { view: Buffer; copy: Buffer }[] = [];
  unwritten = 0;

  write = (bytes: Buffer): void => {
    this.held.push({ view: bytes, copy: Buffer.from(bytes) });
    this.unwritten += bytes.length;
  };

  /** Writes the oldest `n` held regions, checking that nobody touched them meanwhile. */
  complete(n: number): void {
    for (const h of this.held.splice(0, n)) {
      expect(h.view.equals(h.copy)).toBe(true);
      this.unwritten -= h.view.length;
    }
  }
}

describe('SendBuffer slab reuse', () => {
  it('never writes into a region the socket still holds, whatever the frame sizes and the order of completions', () => {
    const rnd = prng(11);
    const socket = new HeldSocket();
    const sb = new SendBuffer(2 * 1024 * 1024, { slabBytes: 256 * 1024, unwritten: () => socket.unwritten, maxPooledBytes: 8 * 1024 * 1024 });
    let seq = 0;
    let large = 0;
    for (let i = 0; i < 2000; i++) {
      const size = rnd() < 0.1 ? 1024 * 1024 + Math.floor(rnd() * 1000) : 8 + Math.floor(rnd() * 4000);
      if (size > 1024 * 1024) large++;
      const at = sb.claim(size, socket.write);
      payload(seq++, size).copy(sb.buffer, at);
      sb.commit(size);
      if (rnd() < 0.3) {
        const b = sb.take();
        if (b) socket.write(b);
      }
      // the socket writes some of what it holds, sometimes nothing for a long while
      if (rnd() < 0.2) socket.complete(Math.floor(rnd() * (socket.held.length + 1)));
    }
    const b = sb.take();
    if (b) socket.write(b);
    socket.complete(socket.held.length);
    // reused: far fewer slabs than large frames (the socket here holds without bound, so some
    // slabs beyond the pool's bound are fresh), and the pool stayed within its bound
    expect(sb.allocations).toBeLessThan(large / 2);
    expect(sb.pooled.bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('keeps writing into the same slab while the socket keeps up', () => {
    const socket = new HeldSocket();
    const sb = new SendBuffer(2 * 1024 * 1024, { unwritten: () => socket.unwritten });
    for (let i = 0; i < 200; i++) {
      const at = sb.claim(1024 * 1024, socket.write);
      sb.buffer.fill(i & 0xff, at, at + 1024 * 1024);
      sb.commit();
      socket.write(sb.take()!);
      socket.complete(socket.held.length);
    }
    expect(sb.allocations).toBe(2); // the first (small) slab, then one that fits a frame
  });

  it('without a way to know what the socket wrote, every new slab is fresh (never reused)', () => {
    const socket = new HeldSocket();
    const sb = new SendBuffer(2 * 1024 * 1024);
    for (let i = 0; i < 20; i++) {
      sb.claim(1024 * 1024, socket.write);
      sb.commit();
      socket.write(sb.take()!);
    }
    socket.complete(socket.held.length);
    expect(sb.allocations).toBe(21);
    expect(sb.pooled.slabs).toBe(0);
  });
});

describe('Connection sending large frames over loopback', () => {
  const pairs: Pair[] = [];
  afterEach(() => {
    for (const p of pairs.splice(0)) p.close();
  });

  async function send(from: Connection, to: Connection, n: number, size: number, readEvery: number): Promise<number[]> {
    let sent = 0;
    let tick = 0;
    const got: number[] = [];
    await until('all frames read', () => {
      while (sent < n && from.trySend(payload(sent, size))) sent++;
      // a slow reader: it polls one frame now and then, so the sender is held back at its high-water mark
      if (++tick % readEvery === 0) to.poll((b, o, l) => got.push(checkPayload(b, o, l)), 1);
      return got.length === n;
    }, 60_000, 1);
    return got;
  }

  it('a backed-up sender reuses its slabs (no slab per 1 MiB frame) and every frame arrives intact', async () => {
    const p = await connectedPair({ maxFrameLength: 2 * 1024 * 1024 }, { maxFrameLength: 2 * 1024 * 1024, maxInboundBytes: 2 * 1024 * 1024 });
    pairs.push(p);
    const N = 120;
    const got = await send(p.accepted, p.client, N, 1024 * 1024, 3);
    expect(got).toEqual([...Array(N).keys()]);
    expect(p.accepted.stats.sendSlabsAllocated).toBeLessThan(N / 10);
  });
});
