/**
 * The control session protocol on the wire: malformed datagrams answered with the right error
 * code and counted, duplicates after eviction, close, and a response channel other than the
 * request's source address.
 */
import { createSocket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { ErrorCode } from '../../src/util/errors.js';
import { RawClient, decodeResponse, decodeStats, launchArchiver, removeDir, templateOf, until } from './support.js';

describe('control sessions', () => {
  let archiver: Archiver;
  let dir: string;
  let c: RawClient;

  beforeEach(async () => {
    ({ archiver, dir } = await launchArchiver());
    c = await RawClient.connect(archiver.controlPort);
  });

  afterEach(async () => {
    c.close();
    await archiver.close();
    removeDir(dir);
  });

  it('answers malformed datagrams with the matching error code and counts them', async () => {
    const valid = c.proxy.stats(c.ids(77n));
    const cases: [Buffer, number][] = [];
    cases.push([Buffer.alloc(5), ErrorCode.MALFORMED_MESSAGE]);
    const wrongSchema = Buffer.from(valid);
    wrongSchema.writeUInt16LE(102, 4);
    cases.push([wrongSchema, ErrorCode.MALFORMED_MESSAGE]);
    const newer = Buffer.from(valid);
    newer.writeUInt16LE(2, 6);
    cases.push([newer, ErrorCode.UNSUPPORTED_VERSION]);
    const response = Buffer.from(valid);
    response.writeUInt16LE(100, 2);
    cases.push([response, ErrorCode.UNKNOWN_TEMPLATE]);
    cases.push([valid.subarray(0, 20), ErrorCode.MALFORMED_MESSAGE]);
    const start = c.proxy.startRecording(c.ids(78n), 'x', 'udp://127.0.0.1:1', ['a']);
    const hugeGroup = Buffer.from(start);
    hugeGroup.writeUInt16LE(40, 8 + hugeGroup.readUInt16LE(0) + 2);
    cases.push([hugeGroup, ErrorCode.INVALID_ARGUMENT]);
    const lyingVar = Buffer.from(start);
    lyingVar.writeUInt16LE(60_000, lyingVar.length - 'udp://127.0.0.1:1'.length - 2);
    cases.push([lyingVar, ErrorCode.MALFORMED_MESSAGE]);
    const badBool = c.proxy.replay(c.ids(79n), { recordingId: 0, position: null, length: null, speed: 0, follow: false, destination: 'udp://127.0.0.1:9' });
    badBool[8 + 48] = 7; // follow
    cases.push([badBool, ErrorCode.INVALID_ARGUMENT]);
    for (const [buf] of cases) c.send(buf);
    await until('all error responses', () => c.received.filter((m) => templateOf(m) === 100).length === cases.length);
    const codes = c.received.filter((m) => templateOf(m) === 100).map((m) => decodeResponse(m).errorCode);
    expect(codes).toEqual(cases.map(([, code]) => code));
    c.received.length = 0;
    const stats = decodeStats((await c.call((ids) => c.proxy.stats(ids))).data);
    expect(stats.get('malformed')).toBe(cases.length);
  });

  it('refuses to re-execute a non-idempotent request whose answer was evicted', async () => {
    const first = c.ids(1000n);
    expect((await c.exchange(c.proxy.addQuarantine(first, 1n, 2n, ''), first.correlationId)).response.ok).toBe(true);
    for (let i = 0; i < 260; i++) {
      const ids = c.ids(2000n + BigInt(i));
      c.send(c.proxy.keepAlive(ids));
    }
    await until('keep-alives answered', () => c.received.filter((m) => templateOf(m) === 100).length >= 260);
    c.received.length = 0;
    const again = await c.exchange(c.proxy.addQuarantine(first, 1n, 2n, ''), first.correlationId);
    expect(again.response.errorCode).toBe(ErrorCode.INVALID_ARGUMENT);
    const list = await c.call((ids) => c.proxy.listQuarantines(ids));
    expect(list.response.dataCount).toBe(1);
  });

  it('sends responses to the response channel and closes on request', async () => {
    const rx = createSocket('udp4');
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const other = await RawClient.bare(archiver.controlPort);
    other.send(other.proxy.connect(5n, 0, `udp://127.0.0.1:${rx.address().port}`, 'elsewhere'));
    await until('connect answer at the response channel', () => got.length === 1);
    const r = decodeResponse(got[0]!);
    expect(r.ok).toBe(true);
    expect(other.received).toHaveLength(0);
    const close = await c.call((ids) => c.proxy.closeSession(ids));
    expect(close.response.ok).toBe(true);
    const after = await c.call((ids) => c.proxy.stats(ids));
    expect(after.response.errorCode).toBe(ErrorCode.UNKNOWN_SESSION);
    other.close();
    rx.close();
  });
});
