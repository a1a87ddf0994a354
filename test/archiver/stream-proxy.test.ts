/**
 * The hand-written EventBatch layout agrees with the generated codec both ways: batches the
 * archiver's StreamProxy writes (over a real loopback connection) decode with the generated
 * EventBatchDecoder, and batches the generated encoder writes decode with the client's
 * StreamAdapter. Ids and positions up to 2^53-1, negative and extreme times, flags, empty and
 * large payloads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventBatchDecoder, EventBatchEncoder, MessageHeaderDecoder, MessageHeaderEncoder, StreamEndDecoder, StreamRecordingDecoder } from '../../codecs/generated/stream/index.js';
import { StreamProxy } from '../../src/archiver/stream-proxy.js';
import { StreamAdapter } from '../../src/client/stream-adapter.js';
import type { RecordedEvent } from '../../src/client/types.js';
import { MAX_STREAM_FRAME } from '../../src/protocol/stream-layout.js';
import { ErrorCode } from '../../src/util/errors.js';
import { until } from '../helpers/wait.js';
import { connectedPair, type Pair } from '../transport/helpers.js';

interface Ev {
  recordingId: number;
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  flags: number;
  payload: Buffer;
}

const EVENTS: Ev[] = [
  { recordingId: 0, position: 0, utcNs: 1n, monoNs: 2n, flags: 0, payload: Buffer.from('first') },
  { recordingId: 7, position: 2 ** 40 + 8, utcNs: -5n, monoNs: 0n, flags: 1, payload: Buffer.alloc(0) },
  { recordingId: 2 ** 53 - 1, position: 2 ** 53 - 8, utcNs: 2n ** 63n - 1n, monoNs: -(2n ** 63n), flags: 0xffff, payload: Buffer.from([0, 255, 1]) },
  { recordingId: 3, position: 4096, utcNs: 1_733_000_000_123_456_789n, monoNs: 99n, flags: 0, payload: Buffer.alloc(100_000, 0xab) },
];

let pair: Pair | undefined;
afterEach(() => {
  pair?.close();
  pair = undefined;
});

function received(p: Pair): Buffer[] {
  const out: Buffer[] = [];
  p.client.poll((b, o, l) => out.push(Buffer.from(b.subarray(o, o + l))));
  return out;
}

describe('EventBatch layout', () => {
  it('batches written by StreamProxy decode with the generated decoder', async () => {
    pair = await connectedPair({ maxSendFrameLength: MAX_STREAM_FRAME }, { maxFrameLength: MAX_STREAM_FRAME });
    const proxy = new StreamProxy(pair.accepted, 64 * 1024);
    expect(proxy.recording(7, 'chan.seven')).toBe(true);
    for (const e of EVENTS) {
      if (!proxy.inBatch || !proxy.fits(e.payload.length)) {
        proxy.commit();
        expect(proxy.begin(e.payload.length)).toBe(true);
      }
      // the payload sits at an odd offset of a larger buffer, as in a segment
      const src = Buffer.concat([Buffer.from('xyz'), e.payload, Buffer.from('!')]);
      proxy.append(e.recordingId, src, 3, e.payload.length, e.position, e.utcNs, e.monoNs, e.flags);
    }
    proxy.commit();
    proxy.streamEnd('SOURCE_ENDED', 0, 4, 100_008, '');
    pair.accepted.flush();
    await until('all frames', () => pair!.client.inboundFrames >= 4);
    const frames = received(pair);
    const header = new MessageHeaderDecoder();
    const rec = new StreamRecordingDecoder().wrapAndApplyHeader(frames[0]!, 0, header);
    expect([Number(rec.recordingId()), rec.channel()]).toEqual([7, 'chan.seven']);
    const got: Ev[] = [];
    for (const f of frames.slice(1, -1)) {
      const d = new EventBatchDecoder().wrapAndApplyHeader(f, 0, header);
      expect(header.templateId()).toBe(EventBatchDecoder.TEMPLATE_ID);
      for (const e of d.events()) {
        got.push({
          recordingId: Number(e.recordingId()),
          position: Number(e.position()),
          utcNs: e.utcNs(),
          monoNs: e.monoNs(),
          flags: e.flags(),
          payload: Buffer.from(e.payload()),
        });
      }
      expect(8 + d.encodedLength()).toBe(f.length);
    }
    expect(got).toEqual(EVENTS);
    const end = new StreamEndDecoder().wrapAndApplyHeader(frames.at(-1)!, 0, header);
    expect([end.reason(), end.errorCode(), Number(end.eventsSent()), Number(end.bytesSent())]).toEqual([1, 0, 4, 100_008]);
  });

  it('batches written by the generated encoder decode with the client StreamAdapter', () => {
    const buf = Buffer.alloc(256 * 1024);
    const e = new EventBatchEncoder().wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder());
    const g = e.eventsCount(EVENTS.length);
    for (const ev of EVENTS) {
      g.next().recordingId(ev.recordingId).position(ev.position).utcNs(ev.utcNs).monoNs(ev.monoNs).flags(ev.flags).payload(ev.payload);
    }
    const length = 8 + e.encodedLength();
    const adapter = new StreamAdapter();
    const out: RecordedEvent[] = [];
    // at an offset inside a larger buffer, as a frame in a receive slab
    const slab = Buffer.concat([Buffer.alloc(13), buf.subarray(0, length)]);
    adapter.onMessage(slab, 13, length, out);
    expect(out.map((x) => ({ recordingId: x.recordingId, position: x.position, utcNs: x.utcNs, monoNs: x.monoNs, flags: x.flags ?? 0, payload: Buffer.from(x.payload) }))).toEqual(EVENTS);
    expect(Buffer.isBuffer(out[0]!.payload)).toBe(true);
    expect(out[0]!.payload.toString()).toBe('first');
    expect(out[0]!.flags).toBeUndefined();
  });

  it('a batch that claims more than its bytes hold is MALFORMED_MESSAGE, not a crash', () => {
    const buf = Buffer.alloc(1024);
    const e = new EventBatchEncoder().wrapAndApplyHeader(buf, 0, new MessageHeaderEncoder());
    e.eventsCount(1).next().recordingId(1).position(0).utcNs(0n).monoNs(0n).flags(0).payload(Buffer.alloc(10));
    const length = 8 + e.encodedLength();
    for (const cut of [length - 1, length - 11, 14, 10]) {
      expect(() => new StreamAdapter().onMessage(buf, 0, cut, [])).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED_MESSAGE }));
    }
    buf.writeUInt16LE(60_000, 10); // count far beyond the bytes
    expect(() => new StreamAdapter().onMessage(buf, 0, length, [])).toThrow(expect.objectContaining({ code: ErrorCode.MALFORMED_MESSAGE }));
  });
});
