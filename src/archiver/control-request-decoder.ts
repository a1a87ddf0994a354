/**
 * Decodes one control datagram into a ControlRequest, or throws MalformedRequest carrying the
 * error code to answer with. Everything a datagram can get wrong is caught here: too short,
 * wrong schema, newer version, unknown template, block shorter than the schema's, truncated
 * var data, group headers that claim more entries than the bytes could hold (checked before
 * iterating), counts over the limits, ids out of range, booleans that are neither 0 nor 1,
 * non-finite speeds, unknown mask bits. Pure apart from reusable flyweights, so it can be
 * fuzzed directly as well as through the socket.
 */
import {
  AddQuarantineRequestDecoder,
  ClusterStatusRequestDecoder,
  CloseSessionRequestDecoder,
  ConnectRequestDecoder,
  DeleteRequestDecoder,
  DescribeRecordingRequestDecoder,
  FindPositionRequestDecoder,
  KeepAliveRequestDecoder,
  ListChannelsRequestDecoder,
  ListQuarantinesRequestDecoder,
  ListRecordingsRequestDecoder,
  ReadRequestDecoder,
  RecordingPositionRequestDecoder,
  RemoveQuarantineRequestDecoder,
  ReplayRequestDecoder,
  StartRecordingRequestDecoder,
  StatsRequestDecoder,
  StopRecordingRequestDecoder,
  StopReplayRequestDecoder,
  StreamReplayRequestDecoder,
  SubscribeNotificationsRequestDecoder,
  TimeReplayRequestDecoder,
} from '../../codecs/generated/control/index.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import type { ControlRequest, SessionRequest } from './control-requests.js';

export const CONTROL_SCHEMA_ID = 101;
export const CONTROL_SCHEMA_VERSION = 1;
const HEADER = 8;
const INT64_NULL = -(2n ** 63n);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_ALIASES = 32;
const MAX_REPLAY_CHANNELS = 256;

/**
 * Thrown for a datagram that cannot be decoded. Not an Error subclass on purpose: malformed
 * input is expected traffic (and fuzzed), and capturing a stack per datagram is wasted work.
 */
class Malformed {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

function fail(code: number, message: string): never {
  throw new Malformed(code, message);
}

/** int64 id/position/count field: must be 0 <= v <= 2^53-1. */
function id(v: bigint, name: string): number {
  if (v < 0n || v > MAX_SAFE) fail(ErrorCode.INVALID_ARGUMENT, `${name} ${v} is out of range`);
  return Number(v);
}

function optionalId(v: bigint, name: string): number | null {
  return v === INT64_NULL ? null : id(v, name);
}

function optionalTime(v: bigint): bigint | null {
  return v === INT64_NULL ? null : v;
}

function bool(v: number, name: string): boolean {
  if (v !== 0 && v !== 1) fail(ErrorCode.INVALID_ARGUMENT, `${name} must be TRUE or FALSE`);
  return v === 1;
}

function speedOf(v: number): number {
  if (!Number.isFinite(v) || v < 0 || v > 1e6) fail(ErrorCode.INVALID_ARGUMENT, `speed ${v} must be from 0 to 1e6`);
  return v;
}

export interface DecoderSet {
  connect: ConnectRequestDecoder;
  close: CloseSessionRequestDecoder;
  keepAlive: KeepAliveRequestDecoder;
  start: StartRecordingRequestDecoder;
  stop: StopRecordingRequestDecoder;
  replay: ReplayRequestDecoder;
  timeReplay: TimeReplayRequestDecoder;
  stopReplay: StopReplayRequestDecoder;
  read: ReadRequestDecoder;
  list: ListRecordingsRequestDecoder;
  describe: DescribeRecordingRequestDecoder;
  position: RecordingPositionRequestDecoder;
  find: FindPositionRequestDecoder;
  channels: ListChannelsRequestDecoder;
  stats: StatsRequestDecoder;
  addQ: AddQuarantineRequestDecoder;
  removeQ: RemoveQuarantineRequestDecoder;
  listQ: ListQuarantinesRequestDecoder;
  del: DeleteRequestDecoder;
  cluster: ClusterStatusRequestDecoder;
  subscribe: SubscribeNotificationsRequestDecoder;
  stream: StreamReplayRequestDecoder;
}

const BLOCK_LENGTHS: Record<number, number> = {
  1: ConnectRequestDecoder.BLOCK_LENGTH,
  2: CloseSessionRequestDecoder.BLOCK_LENGTH,
  3: KeepAliveRequestDecoder.BLOCK_LENGTH,
  4: StartRecordingRequestDecoder.BLOCK_LENGTH,
  5: StopRecordingRequestDecoder.BLOCK_LENGTH,
  6: ReplayRequestDecoder.BLOCK_LENGTH,
  7: TimeReplayRequestDecoder.BLOCK_LENGTH,
  8: StopReplayRequestDecoder.BLOCK_LENGTH,
  9: ReadRequestDecoder.BLOCK_LENGTH,
  10: ListRecordingsRequestDecoder.BLOCK_LENGTH,
  11: DescribeRecordingRequestDecoder.BLOCK_LENGTH,
  12: RecordingPositionRequestDecoder.BLOCK_LENGTH,
  13: FindPositionRequestDecoder.BLOCK_LENGTH,
  14: ListChannelsRequestDecoder.BLOCK_LENGTH,
  15: StatsRequestDecoder.BLOCK_LENGTH,
  16: AddQuarantineRequestDecoder.BLOCK_LENGTH,
  17: RemoveQuarantineRequestDecoder.BLOCK_LENGTH,
  18: ListQuarantinesRequestDecoder.BLOCK_LENGTH,
  19: DeleteRequestDecoder.BLOCK_LENGTH,
  20: ClusterStatusRequestDecoder.BLOCK_LENGTH,
  21: SubscribeNotificationsRequestDecoder.BLOCK_LENGTH,
  22: StreamReplayRequestDecoder.BLOCK_LENGTH,
};

/**
 * Decodes one datagram into a request, or throws Malformed. Pure (apart from the reusable
 * flyweights), so it is fuzzed directly as well as through the socket.
 */
export class ControlRequestDecoder {
  private readonly d: DecoderSet = {
    connect: new ConnectRequestDecoder(),
    close: new CloseSessionRequestDecoder(),
    keepAlive: new KeepAliveRequestDecoder(),
    start: new StartRecordingRequestDecoder(),
    stop: new StopRecordingRequestDecoder(),
    replay: new ReplayRequestDecoder(),
    timeReplay: new TimeReplayRequestDecoder(),
    stopReplay: new StopReplayRequestDecoder(),
    read: new ReadRequestDecoder(),
    list: new ListRecordingsRequestDecoder(),
    describe: new DescribeRecordingRequestDecoder(),
    position: new RecordingPositionRequestDecoder(),
    find: new FindPositionRequestDecoder(),
    channels: new ListChannelsRequestDecoder(),
    stats: new StatsRequestDecoder(),
    addQ: new AddQuarantineRequestDecoder(),
    removeQ: new RemoveQuarantineRequestDecoder(),
    listQ: new ListQuarantinesRequestDecoder(),
    del: new DeleteRequestDecoder(),
    cluster: new ClusterStatusRequestDecoder(),
    subscribe: new SubscribeNotificationsRequestDecoder(),
    stream: new StreamReplayRequestDecoder(),
  };

  /** Reads what can be read for an error reply: [controlSessionId, correlationId]. */
  static replyIds(buf: Buffer): [bigint, bigint] {
    if (buf.length < HEADER) return [0n, 0n];
    const templateId = buf.readUInt16LE(2);
    if (templateId === 1) return [0n, buf.length >= HEADER + 8 ? buf.readBigInt64LE(HEADER) : 0n];
    if (templateId >= 2 && templateId <= 99 && buf.length >= HEADER + 16) {
      return [buf.readBigInt64LE(HEADER), buf.readBigInt64LE(HEADER + 8)];
    }
    return [0n, 0n];
  }

  decode(buf: Buffer): ControlRequest {
    try {
      return this.decodeChecked(buf);
    } catch (err) {
      if (err instanceof Malformed) throw err;
      if (isVcrError(err)) throw new Malformed(err.code, err.message);
      // RangeError from a flyweight reading past the end, or anything else the bytes provoke
      throw new Malformed(ErrorCode.MALFORMED_MESSAGE, `malformed message: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private decodeChecked(buf: Buffer): ControlRequest {
    if (buf.length < HEADER) fail(ErrorCode.MALFORMED_MESSAGE, `datagram of ${buf.length} bytes is shorter than a message header`);
    const blockLength = buf.readUInt16LE(0);
    const templateId = buf.readUInt16LE(2);
    const schemaId = buf.readUInt16LE(4);
    const version = buf.readUInt16LE(6);
    if (schemaId !== CONTROL_SCHEMA_ID) fail(ErrorCode.MALFORMED_MESSAGE, `schema id ${schemaId} is not ${CONTROL_SCHEMA_ID}`);
    if (version > CONTROL_SCHEMA_VERSION) {
      fail(ErrorCode.UNSUPPORTED_VERSION, `schema version ${version} is newer than ${CONTROL_SCHEMA_VERSION}`);
    }
    if (version < 1) fail(ErrorCode.MALFORMED_MESSAGE, `schema version ${version} is invalid`);
    const expected = BLOCK_LENGTHS[templateId];
    if (expected === undefined) fail(ErrorCode.UNKNOWN_TEMPLATE, `template id ${templateId} is not a request`);
    if (blockLength < expected) fail(ErrorCode.MALFORMED_MESSAGE, `block length ${blockLength} is shorter than ${expected}`);
    if (buf.length < HEADER + blockLength) {
      fail(ErrorCode.MALFORMED_MESSAGE, `datagram of ${buf.length} bytes is shorter than its block length ${blockLength}`);
    }
    const d = this.d;
    const o = HEADER;
    const ids = (dec: { controlSessionId(): bigint; correlationId(): bigint }) => ({
      controlSessionId: dec.controlSessionId(),
      correlationId: dec.correlationId(),
    });
    let r: ControlRequest;
    switch (templateId) {
      case 1: {
        const x = d.connect.wrap(buf, o, blockLength, version);
        r = {
          type: 'connect',
          correlationId: x.correlationId(),
          responseStreamVersion: x.responseStreamVersion(),
          keepAliveTimeoutMs: x.keepAliveTimeoutMs(),
          responseChannel: x.responseChannel(),
          clientName: x.clientName(),
        };
        if (x.keepAliveTimeoutMs() > 86_400_000) fail(ErrorCode.INVALID_ARGUMENT, 'keepAliveTimeoutMs must be at most one day');
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 2:
        return { type: 'close', ...ids(d.close.wrap(buf, o, blockLength, version)) };
      case 3:
        return { type: 'keepAlive', ...ids(d.keepAlive.wrap(buf, o, blockLength, version)) };
      case 4: {
        const x = d.start.wrap(buf, o, blockLength, version);
        const base = ids(x);
        this.checkGroup(buf, o + blockLength, 2, MAX_ALIASES, 'aliases');
        const aliases: string[] = [];
        for (const a of x.aliases()) aliases.push(a.alias());
        r = { type: 'startRecording', ...base, aliases, channel: x.channel(), source: x.source() };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 5: {
        const x = d.stop.wrap(buf, o, blockLength, version);
        r = { type: 'stopRecording', ...ids(x), recordingId: optionalId(x.recordingId(), 'recordingId'), channel: x.channel() };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 6: {
        const x = d.replay.wrap(buf, o, blockLength, version);
        r = {
          type: 'replay',
          ...ids(x),
          recordingId: id(x.recordingId(), 'recordingId'),
          position: optionalId(x.position(), 'position'),
          length: optionalId(x.length(), 'length'),
          speed: speedOf(x.speed()),
          follow: bool(x.follow() as number, 'follow'),
          destination: x.destination(),
        };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 7: {
        const x = d.timeReplay.wrap(buf, o, blockLength, version);
        const base = {
          ...ids(x),
          fromUtcNs: optionalTime(x.fromUtcNs()),
          toUtcNs: optionalTime(x.toUtcNs()),
          speed: speedOf(x.speed()),
          follow: bool(x.follow() as number, 'follow'),
        };
        this.checkGroup(buf, o + blockLength, 4, MAX_REPLAY_CHANNELS, 'channels');
        const channels: { channel: string; destination: string }[] = [];
        for (const c of x.channels()) channels.push({ channel: c.channel(), destination: c.destination() });
        r = { type: 'timeReplay', ...base, channels };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 8: {
        const x = d.stopReplay.wrap(buf, o, blockLength, version);
        return { type: 'stopReplay', ...ids(x), replaySessionId: id(x.replaySessionId(), 'replaySessionId') };
      }
      case 9: {
        const x = d.read.wrap(buf, o, blockLength, version);
        return {
          type: 'read',
          ...ids(x),
          recordingId: id(x.recordingId(), 'recordingId'),
          position: id(x.position(), 'position'),
          fragmentOffset: x.fragmentOffset(),
          maxBytes: x.maxBytes(),
          toUtcNs: optionalTime(x.toUtcNs()),
        };
      }
      case 10: {
        const x = d.list.wrap(buf, o, blockLength, version);
        const set = x.states();
        const states = new Set<string>();
        if (set.recording()) states.add('recording');
        if (set.stopped()) states.add('stopped');
        if (set.failed()) states.add('failed');
        if (set.invalid()) states.add('invalid');
        if (set.deleted()) states.add('deleted');
        r = {
          type: 'listRecordings',
          ...ids(x),
          fromRecordingId: id(x.fromRecordingId(), 'fromRecordingId'),
          maxCount: x.maxCount(),
          states,
          fromUtcNs: optionalTime(x.fromUtcNs()),
          toUtcNs: optionalTime(x.toUtcNs()),
          channel: x.channel(),
        };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 11: {
        const x = d.describe.wrap(buf, o, blockLength, version);
        return { type: 'describe', ...ids(x), recordingId: id(x.recordingId(), 'recordingId') };
      }
      case 12: {
        const x = d.position.wrap(buf, o, blockLength, version);
        return { type: 'position', ...ids(x), recordingId: id(x.recordingId(), 'recordingId') };
      }
      case 13: {
        const x = d.find.wrap(buf, o, blockLength, version);
        return { type: 'findPosition', ...ids(x), recordingId: id(x.recordingId(), 'recordingId'), utcNs: x.utcNs() };
      }
      case 14:
        return { type: 'listChannels', ...ids(d.channels.wrap(buf, o, blockLength, version)) };
      case 15:
        return { type: 'stats', ...ids(d.stats.wrap(buf, o, blockLength, version)) };
      case 16: {
        const x = d.addQ.wrap(buf, o, blockLength, version);
        r = { type: 'addQuarantine', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), channel: x.channel() };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 17: {
        const x = d.removeQ.wrap(buf, o, blockLength, version);
        return { type: 'removeQuarantine', ...ids(x), quarantineId: id(x.quarantineId(), 'quarantineId') };
      }
      case 18:
        return { type: 'listQuarantines', ...ids(d.listQ.wrap(buf, o, blockLength, version)) };
      case 19: {
        const x = d.del.wrap(buf, o, blockLength, version);
        r = { type: 'delete', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), channel: x.channel() };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      case 20:
        return { type: 'clusterStatus', ...ids(d.cluster.wrap(buf, o, blockLength, version)) };
      case 21: {
        const x = d.subscribe.wrap(buf, o, blockLength, version);
        const raw = buf.readUInt32LE(o + 16);
        if ((raw & ~0x1f) !== 0) fail(ErrorCode.INVALID_ARGUMENT, `notification mask 0x${raw.toString(16)} has unknown bits`);
        void x;
        return { type: 'subscribe', ...ids(x), mask: raw } as SessionRequest;
      }
      case 22: {
        const x = d.stream.wrap(buf, o, blockLength, version);
        const base = {
          ...ids(x),
          recordingId: optionalId(x.recordingId(), 'recordingId'),
          position: optionalId(x.position(), 'position'),
          length: optionalId(x.length(), 'length'),
          fromUtcNs: optionalTime(x.fromUtcNs()),
          toUtcNs: optionalTime(x.toUtcNs()),
          follow: bool(x.follow() as number, 'follow'),
        };
        this.checkGroup(buf, o + blockLength, 2, MAX_REPLAY_CHANNELS, 'channels');
        const channels: string[] = [];
        for (const c of x.channels()) channels.push(c.channel());
        r = { type: 'streamReplay', ...base, channels };
        this.checkEnd(buf, x.encodedLength());
        return r;
      }
      default:
        return fail(ErrorCode.UNKNOWN_TEMPLATE, `template id ${templateId} is not a request`);
    }
  }

  /** A group header must describe no more entries than the bytes left could hold. */
  private checkGroup(buf: Buffer, at: number, varHeaderBytes: number, maxCount: number, name: string): void {
    if (buf.length < at + 4) fail(ErrorCode.MALFORMED_MESSAGE, `group ${name} header is truncated`);
    const entryBlock = buf.readUInt16LE(at);
    const count = buf.readUInt16LE(at + 2);
    if (count > maxCount) fail(ErrorCode.INVALID_ARGUMENT, `group ${name} has ${count} entries (at most ${maxCount})`);
    if (count * (entryBlock + varHeaderBytes) > buf.length - at - 4) {
      fail(ErrorCode.MALFORMED_MESSAGE, `group ${name} claims ${count} entries that the datagram cannot hold`);
    }
  }

  /** The decoded message must lie inside the datagram. */
  private checkEnd(buf: Buffer, encodedLength: number): void {
    if (HEADER + encodedLength > buf.length) fail(ErrorCode.MALFORMED_MESSAGE, 'message is truncated');
  }
}

export { Malformed as MalformedRequest };
