/**
 * ControlRequestDecoder on its own: every request template of the generated registry decodes
 * (nothing else does), ids above 2^53-1 are refused as out of range (INVALID_ARGUMENT, not a
 * silently rounded number), and the ids of a datagram that failed to decode are read back
 * for the error reply only where the datagram holds them.
 */
import { describe, expect, it } from 'vitest';
import { HEADER_LENGTH, MESSAGES, MessageHeaderEncoder, TEMPLATE_IDS } from '../../codecs/generated/control/index.js';
import { ControlRequestDecoder, type MalformedRequest } from '../../src/archiver/control-request-decoder.js';
import { ControlRequestProxy } from '../../src/client/control-request-proxy.js';
import { ErrorCode } from '../../src/util/errors.js';

const proxy = new ControlRequestProxy();
const ids = { controlSessionId: 5, correlationId: 77n };

function refusal(decoder: ControlRequestDecoder, buf: Buffer): number {
  try {
    decoder.decode(buf);
  } catch (err) {
    return (err as MalformedRequest).code;
  }
  throw new Error('decoded');
}

/** Writes a 64-bit value at a field's offset (header included), as a hostile client could. */
function poke(buf: Buffer, fieldOffset: number, v: bigint): Buffer {
  const b = Buffer.from(buf);
  b.writeBigInt64LE(v, HEADER_LENGTH + fieldOffset);
  return b;
}

describe('ControlRequestDecoder', () => {
  it('decodes every request the client library encodes, by template id from the registry', () => {
    const d = new ControlRequestDecoder();
    const cases: [Buffer, string][] = [
      [proxy.connect(1n, 0, '', 'c'), 'connect'],
      [proxy.closeSession(ids), 'close'],
      [proxy.keepAlive(ids), 'keepAlive'],
      [proxy.startRecording(ids, 'ch', 'udp://127.0.0.1:1', ['a']), 'startRecording'],
      [proxy.stopRecording(ids, null, 'ch'), 'stopRecording'],
      [proxy.replay(ids, { recordingId: 1, position: null, length: 10, speed: 1, follow: false, destination: 'udp://127.0.0.1:2' }), 'replay'],
      [proxy.timeReplay(ids, { fromUtcNs: null, toUtcNs: 5n, speed: 0, follow: true, channels: [{ channel: 'a', destination: 'udp://127.0.0.1:3' }] }), 'timeReplay'],
      [proxy.stopReplay(ids, 3), 'stopReplay'],
      [proxy.read(ids, { recordingId: 2, position: 64, fragmentOffset: 0, maxBytes: 100, toUtcNs: null }), 'read'],
      [proxy.listRecordings(ids, { fromRecordingId: 0, maxCount: 10, states: ['stopped'], fromUtcNs: null, toUtcNs: null, channel: '' }), 'listRecordings'],
      [proxy.describeRecording(ids, 4), 'describe'],
      [proxy.recordingPosition(ids, 4), 'position'],
      [proxy.findPosition(ids, 4, 9n), 'findPosition'],
      [proxy.listChannels(ids), 'listChannels'],
      [proxy.stats(ids), 'stats'],
      [proxy.addQuarantine(ids, 1n, 2n, ''), 'addQuarantine'],
      [proxy.removeQuarantine(ids, 6), 'removeQuarantine'],
      [proxy.listQuarantines(ids), 'listQuarantines'],
      [proxy.deleteEvents(ids, 1n, 2n, 'ch'), 'delete'],
      [proxy.clusterStatus(ids), 'clusterStatus'],
      [proxy.subscribeNotifications(ids, 0b101), 'subscribe'],
      [proxy.streamReplay(ids, { recordingId: null, position: null, length: null, fromUtcNs: 1n, toUtcNs: null, follow: true, channels: ['a', 'b'] }), 'streamReplay'],
      [proxy.eventRates(ids, 1n, 2n, 10, ''), 'eventRates'],
      [proxy.deletePreview(ids, 1n, 2n, 'ch'), 'deletePreview'],
      [proxy.retention(ids, true), 'retentionDryRun'],
      [proxy.retention(ids, false), 'retentionRun'],
      [proxy.archiveRun(ids, true), 'archiveRun'],
      [proxy.archiveStatus(ids), 'archiveStatus'],
    ];
    // feature blocks inside 1-99 (archive tier 60-69) hold their answers and notifications too: requests end in "Request"
    expect(cases.length).toBe(Object.values(MESSAGES).filter((m) => m.templateId < 100 && m.name.endsWith('Request')).length);
    for (const [buf, type] of cases) {
      const r = d.decode(buf);
      expect(r.type).toBe(type);
      if (r.type !== 'connect') expect([r.controlSessionId, r.correlationId]).toEqual([5, 77n]);
    }
    const read = d.decode(cases[8]![0]);
    expect(read).toMatchObject({ recordingId: 2, position: 64, maxBytes: 100, toUtcNs: null });
    const replay = d.decode(cases[5]![0]);
    expect(replay).toMatchObject({ recordingId: 1, position: null, length: 10 });
    const stream = d.decode(cases[21]![0]);
    expect(stream).toMatchObject({ recordingId: null, fromUtcNs: 1n, toUtcNs: null, follow: true, channels: ['a', 'b'] });
  });

  it('refuses templates that are not requests', () => {
    const response = Buffer.from(proxy.stats(ids));
    new MessageHeaderEncoder().wrap(response, 0).templateId(TEMPLATE_IDS.ControlResponse);
    expect(refusal(new ControlRequestDecoder(), response)).toBe(ErrorCode.UNKNOWN_TEMPLATE);
    // retention's data message and notification share the request range (70-79) but are not requests
    for (const t of [TEMPLATE_IDS.RetentionEntry, TEMPLATE_IDS.RetentionRunEnded]) {
      const b = Buffer.from(proxy.stats(ids));
      new MessageHeaderEncoder().wrap(b, 0).templateId(t);
      expect(refusal(new ControlRequestDecoder(), b)).toBe(ErrorCode.UNKNOWN_TEMPLATE);
    }
  });

  it('refuses ids, positions and lengths above 2^53-1 as out of range, never rounding them', () => {
    const d = new ControlRequestDecoder();
    const read = proxy.read(ids, { recordingId: 2, position: 64, fragmentOffset: 0, maxBytes: 100, toUtcNs: null });
    const R = MESSAGES.ReadRequest.decoder;
    for (const [offset, v] of [
      [R.recordingIdEncodingOffset(), 2n ** 53n],
      [R.positionEncodingOffset(), 2n ** 53n + 1n],
      [R.controlSessionIdEncodingOffset(), 2n ** 62n],
      [R.positionEncodingOffset(), -1n],
    ] as const) {
      expect(refusal(d, poke(read, offset, v)), `${offset} = ${v}`).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    // the largest safe value is a value like any other
    expect(d.decode(poke(read, R.positionEncodingOffset(), 2n ** 53n - 1n))).toMatchObject({ position: Number.MAX_SAFE_INTEGER });
    // a correlation id is the client's choice over all of int64 (bigint): any value decodes
    const anyCorrelation = poke(read, R.correlationIdEncodingOffset(), -(2n ** 63n) + 5n);
    expect(d.decode(anyCorrelation)).toMatchObject({ correlationId: -(2n ** 63n) + 5n });
  });

  it('reads back the ids of an undecodable datagram for the error reply, where it holds them', () => {
    const stats = proxy.stats({ controlSessionId: 9, correlationId: 1234n });
    expect(ControlRequestDecoder.replyIds(stats)).toEqual([9, 1234n]);
    expect(ControlRequestDecoder.replyIds(proxy.connect(4321n, 0, '', 'c'))).toEqual([0, 4321n]);
    expect(ControlRequestDecoder.replyIds(stats.subarray(0, HEADER_LENGTH + 12))).toEqual([9, 0n]); // correlationId cut off
    expect(ControlRequestDecoder.replyIds(stats.subarray(0, 5))).toEqual([0, 0n]);
    const unsafeSession = poke(stats, MESSAGES.StatsRequest.decoder.controlSessionIdEncodingOffset(), 2n ** 60n);
    expect(ControlRequestDecoder.replyIds(unsafeSession)).toEqual([0, 1234n]);
    const response = Buffer.from(stats);
    new MessageHeaderEncoder().wrap(response, 0).templateId(TEMPLATE_IDS.ControlResponse);
    expect(ControlRequestDecoder.replyIds(response)).toEqual([0, 0n]);
  });
});
