/**
 * Control sessions against a hostile client, over real UDP to a real archiver: a burst of
 * connects cannot lock other addresses out, keep-alives are bounded, a session only accepts
 * requests from the socket that opened it, session ids cannot be guessed, and a correlationId
 * reused for a different request is refused. Clients on 127.0.0.2 / 127.0.0.3 stand for other
 * hosts (the whole of 127.0.0.0/8 is this host's loopback).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { SessionIdGenerator } from '../../src/archiver/session-ids.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode } from '../../src/util/errors.js';
import { RawClient, decodeResponse, launchArchiver, removeDir, templateOf, until } from './support.js';

const DAY_MS = 86_400_000;

describe('control sessions under attack', () => {
  let archiver: Archiver | undefined;
  let dir = '';
  const clients: RawClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await archiver?.close();
    archiver = undefined;
    removeDir(dir);
  });

  async function start(doc: Record<string, unknown> = {}, clock?: ManualClock): Promise<Archiver> {
    ({ archiver, dir } = await launchArchiver(doc, undefined, clock ? { nanoClock: clock, utcClock: clock } : {}));
    return archiver;
  }

  async function client(bindHost = '127.0.0.1', keepAliveMs = 0): Promise<RawClient> {
    const c = await RawClient.connect(archiver!.controlPort, keepAliveMs, bindHost);
    clients.push(c);
    return c;
  }

  it('a burst of connects with day-long keep-alives from one address leaves room for other addresses', async () => {
    const a = await start({ limits: { maxSessions: 64 } });
    const flood = await RawClient.bare(a.controlPort, '127.0.0.1');
    clients.push(flood);
    for (let i = 1; i <= 100; i++) flood.send(flood.proxy.connect(BigInt(i), DAY_MS, '', 'flood'));
    await until('100 connect answers', () => flood.received.filter((m) => templateOf(m) === 100).length === 100);
    const answers = flood.received.map(decodeResponse);
    expect(answers.filter((r) => r.ok)).toHaveLength(16); // limits.maxSessionsPerAddress default
    expect(answers.filter((r) => !r.ok).every((r) => r.errorCode === ErrorCode.NOT_ALLOWED)).toBe(true);
    // another host gets in, and works
    const other = await client('127.0.0.2');
    expect((await other.call((ids) => other.proxy.stats(ids))).response.ok).toBe(true);
  });

  it('with the table full, a new address evicts the idlest session of the address holding the most', async () => {
    const a = await start({ limits: { maxSessions: 4, maxSessionsPerAddress: 3 } });
    const first = [await client('127.0.0.1'), await client('127.0.0.1'), await client('127.0.0.1')];
    const second = await client('127.0.0.2');
    // first[0] is the idlest of 127.0.0.1 once the others have spoken
    for (const c of [first[1]!, first[2]!, second]) expect((await c.call((ids) => c.proxy.keepAlive(ids))).response.ok).toBe(true);
    const third = await client('127.0.0.3');
    expect((await third.call((ids) => third.proxy.stats(ids))).response.ok).toBe(true);
    expect((await first[0]!.call((ids) => first[0]!.proxy.stats(ids))).response.errorCode).toBe(ErrorCode.UNKNOWN_SESSION);
    expect((await first[1]!.call((ids) => first[1]!.proxy.stats(ids))).response.ok).toBe(true);
    expect(a.counters.get('sessionsEvicted')).toBe(1);
    // 127.0.0.1 now holds the most (2): it cannot evict anyone to get a third back
    const again = await RawClient.bare(a.controlPort, '127.0.0.1');
    clients.push(again);
    const r = await again.exchange(again.proxy.connect(9n, 0, '', 'again'), 9n);
    expect(r.response.errorCode).toBe(ErrorCode.NOT_ALLOWED);
  });

  it('clamps a keep-alive longer than limits.maxKeepAliveMs and times the session out by the clamped value', async () => {
    const clock = new ManualClock(1_000_000_000n);
    await start({ limits: { maxKeepAliveMs: 60_000 } }, clock);
    const c = await client('127.0.0.1', DAY_MS);
    clock.advanceMs(59_000);
    expect((await c.call((ids) => c.proxy.keepAlive(ids))).response.ok).toBe(true);
    clock.advanceMs(60_500);
    await until('the session timed out', () => archiver!.counters.get('sessionsTimedOut') === 1);
    expect((await c.call((ids) => c.proxy.stats(ids))).response.errorCode).toBe(ErrorCode.UNKNOWN_SESSION);
  });

  it('refuses requests naming a session from another socket, and executes nothing', async () => {
    await start();
    const owner = await client();
    const q = await owner.call((ids) => owner.proxy.addQuarantine(ids, 1n, 2n, ''));
    expect(q.response.ok).toBe(true);
    const thief = await RawClient.bare(archiver!.controlPort);
    clients.push(thief);
    thief.sessionId = owner.sessionId;
    const del = await thief.call((ids) => thief.proxy.removeQuarantine(ids, Number(q.response.relevantId)));
    expect(del.response.errorCode).toBe(ErrorCode.SESSION_ADDRESS_MISMATCH);
    const close = await thief.call((ids) => thief.proxy.closeSession(ids));
    expect(close.response.errorCode).toBe(ErrorCode.SESSION_ADDRESS_MISMATCH);
    // the owner's session is still there and the quarantine was not removed
    const list = await owner.call((ids) => owner.proxy.listQuarantines(ids));
    expect(list.response.ok).toBe(true);
    expect(list.response.dataCount).toBe(1);
  });

  it('gives session ids that do not follow from one another', async () => {
    await start();
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await client()).sessionId);
    for (const id of ids) {
      expect(id).toBeGreaterThan(0);
      expect(id).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    }
    const steps = ids.slice(1).map((id, i) => id - ids[i]!);
    expect(steps.some((d) => d === 1)).toBe(false);
    expect(ids.some((id) => id > 1_000_000)).toBe(true);
  });

  it('refuses a correlationId reused for a different request, and still answers the retry', async () => {
    await start();
    const c = await client();
    const ids = c.ids(500n);
    const add = await c.exchange(c.proxy.addQuarantine(ids, 1n, 2n, ''), 500n);
    expect(add.response.ok).toBe(true);
    const reused = await c.exchange(c.proxy.listQuarantines(ids), 500n);
    expect(reused.response.errorCode).toBe(ErrorCode.CORRELATION_REUSED);
    const retry = await c.exchange(c.proxy.addQuarantine(ids, 1n, 2n, ''), 500n);
    expect(retry.response).toEqual(add.response);
    const list = await c.call((i) => c.proxy.listQuarantines(i));
    expect(list.response.dataCount).toBe(1);
  });
});

describe('SessionIdGenerator', () => {
  it('never repeats and stays within 1 .. 2^53-1', () => {
    const g = new SessionIdGenerator();
    const seen = new Set<number>();
    let outOfRange = 0;
    for (let i = 0; i < 50_000; i++) {
      const id = g.next();
      if (!Number.isSafeInteger(id) || id < 1) outOfRange++;
      seen.add(id);
    }
    expect(outOfRange).toBe(0);
    expect(seen.size).toBe(50_000);
  });

  it('gives different sequences under different keys', () => {
    const a = new SessionIdGenerator();
    const b = new SessionIdGenerator();
    expect([a.next(), a.next()]).not.toEqual([b.next(), b.next()]);
  });
});
