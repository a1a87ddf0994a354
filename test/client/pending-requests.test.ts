import { describe, expect, it } from 'vitest';
import { PendingRequests, type ControlResponse } from '../../src/client/pending-requests.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';

function setup(attempts = 3, timeoutMs = 100) {
  const sent: Buffer[] = [];
  const p = new PendingRequests({ send: (b) => sent.push(b), timeoutMs, attempts, dataGraceMs: 10, peerName: 'archiver at test' });
  return { p, sent };
}

const ok = (correlationId: bigint, dataCount = 0, relevantId = 1): ControlResponse => ({
  controlSessionId: 1,
  correlationId,
  relevantId,
  ok: true,
  errorCode: 0,
  dataCount,
  errorMessage: '',
});

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; done: boolean }> {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (v) => Object.assign(state, { value: v, done: true }),
    (e) => Object.assign(state, { error: e, done: true }),
  );
  await new Promise((r) => setImmediate(r));
  return state;
}

describe('PendingRequests (manual clock)', () => {
  it('sends once, and re-sends the same bytes at each attempt deadline until TIMEOUT', async () => {
    const { p, sent } = setup(3, 100);
    const bytes = Buffer.from('request-1');
    const promise = p.register(1n, bytes, 'stats', 0);
    promise.catch(() => undefined);
    expect(sent).toHaveLength(1);
    expect(p.doWork(99)).toBe(0);
    expect(p.doWork(100)).toBe(1);
    expect(p.doWork(200)).toBe(1);
    expect(sent).toHaveLength(3);
    expect(sent.every((b) => b.equals(bytes))).toBe(true);
    p.doWork(299);
    expect((await settle(promise)).done).toBe(false);
    p.doWork(300);
    const s = await settle(promise);
    expect(s.error).toBeInstanceOf(VcrError);
    expect((s.error as VcrError).code).toBe(ErrorCode.TIMEOUT);
    expect(p.size).toBe(0);
  });

  it('resolves with the data messages when the final answer says how many came', async () => {
    const { p } = setup();
    const promise = p.register<string>(5n, Buffer.from('x'), 'list', 0);
    p.onData(5n, 'a', 'A', 1);
    p.onData(5n, 'b', 'B', 1);
    p.onData(5n, 'a', 'A', 1); // a duplicate counts once
    p.onResponse(ok(5n, 2), 2);
    const s = await settle(promise);
    expect(s.value?.data).toEqual(['A', 'B']);
  });

  it('waits a grace period for late data, then re-asks; late data completes the request', async () => {
    const { p, sent } = setup(3, 100);
    const promise = p.register<string>(6n, Buffer.from('x'), 'list', 0);
    p.onResponse(ok(6n, 2), 5);
    p.onData(6n, 'a', 'A', 6);
    expect((await settle(promise)).done).toBe(false);
    expect(p.doWork(14)).toBe(0);
    expect(p.doWork(15)).toBe(1); // grace (10 ms) over: re-sent
    expect(sent).toHaveLength(2);
    p.onData(6n, 'b', 'B', 16);
    p.onResponse(ok(6n, 2), 17);
    expect((await settle(promise)).value?.data).toEqual(['A', 'B']);
  });

  it('rejects with the wire error code on an ERROR answer', async () => {
    const { p } = setup();
    const promise = p.register(7n, Buffer.from('x'), 'describe', 0);
    p.onResponse({ ...ok(7n), ok: false, errorCode: ErrorCode.UNKNOWN_RECORDING, errorMessage: 'no recording 3' }, 1);
    const s = await settle(promise);
    expect((s.error as VcrError).code).toBe(ErrorCode.UNKNOWN_RECORDING);
  });

  it('ignores answers nobody waits for and refuses a correlationId already in flight', async () => {
    const { p } = setup();
    expect(p.onResponse(ok(99n), 0)).toBe(false);
    expect(p.onData(99n, 'k', 1, 0)).toBe(false);
    const first = p.register(1n, Buffer.from('x'), 'a', 0);
    const second = await settle(p.register(1n, Buffer.from('y'), 'b', 0));
    expect((second.error as VcrError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    p.onResponse(ok(1n), 1);
    expect((await settle(first)).done).toBe(true);
  });
});
