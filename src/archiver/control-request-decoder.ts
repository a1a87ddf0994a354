/**
 * Decodes one control datagram into a ControlRequest, or throws MalformedRequest carrying the
 * error code to answer with. Everything a datagram can get wrong is caught here: too short,
 * wrong schema, newer version, unknown template, block shorter than the schema's, truncated
 * var data, group headers that claim more entries than the bytes could hold (checked before
 * iterating), counts over the limits, ids out of range, booleans that are neither 0 nor 1,
 * non-finite speeds, unknown mask bits. Pure apart from reusable flyweights, so it can be
 * fuzzed directly as well as through the socket.
 */
import { GroupSizeEncodingDecoder } from '../../codecs/generated/control/GroupSizeEncodingDecoder.js';
import { MessageHeaderDecoder } from '../../codecs/generated/control/MessageHeaderDecoder.js';
import { SbeUnsafeIntegerError } from '../../codecs/generated/SbeRuntime.js';
import { MESSAGES, type SbeMessageInfo } from '../../codecs/generated/control/SbeRegistry.js';
import {
  ALL_NOTIFICATIONS,
  CONTROL_HEADER_LENGTH,
  CONTROL_SCHEMA_ID,
  CONTROL_SCHEMA_VERSION,
  MAX_ALIASES,
  MAX_KEEPALIVE_MS,
  MAX_RATE_BUCKETS,
  MAX_REPLAY_CHANNELS,
  NULL_ID,
  NULL_TIME,
} from '../protocol/constants.js';
import { ErrorCode, isVcrError } from '../util/errors.js';
import type { ControlRequest } from './control-requests.js';

const HEADER = CONTROL_HEADER_LENGTH;

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

/** An id, position or count: 0 <= v (the codec has already refused anything above 2^53-1). */
function id(v: number, name: string): number {
  if (v < 0) fail(ErrorCode.INVALID_ARGUMENT, `${name} ${v} is out of range`);
  return v;
}

function optionalId(v: number, name: string): number | null {
  return v === NULL_ID ? null : id(v, name);
}

function optionalTime(v: bigint): bigint | null {
  return v === NULL_TIME ? null : v;
}

function bool(v: number, name: string): boolean {
  if (v !== 0 && v !== 1) fail(ErrorCode.INVALID_ARGUMENT, `${name} must be TRUE or FALSE`);
  return v === 1;
}

function speedOf(v: number): number {
  if (!Number.isFinite(v) || v < 0 || v > 1e6) fail(ErrorCode.INVALID_ARGUMENT, `speed ${v} must be from 0 to 1e6`);
  return v;
}

/** What every request decoder has in common: the acting-version wrap and the ids. */
interface RequestFlyweight {
  wrap(buffer: Uint8Array, offset: number, actingBlockLength: number, actingVersion: number): this;
  encodedLength(): number;
  correlationId(): bigint;
}

/** The requests (templates 1-99), from the generated registry: nothing else is decoded here. */
const R = MESSAGES;
const REQUESTS = [
  R.ConnectRequest, R.CloseSessionRequest, R.KeepAliveRequest, R.StartRecordingRequest, R.StopRecordingRequest,
  R.ReplayRequest, R.TimeReplayRequest, R.StopReplayRequest, R.ReadRequest, R.ListRecordingsRequest,
  R.DescribeRecordingRequest, R.RecordingPositionRequest, R.FindPositionRequest, R.ListChannelsRequest, R.StatsRequest,
  R.AddQuarantineRequest, R.RemoveQuarantineRequest, R.ListQuarantinesRequest, R.DeleteRequest, R.ClusterStatusRequest,
  R.SubscribeNotificationsRequest, R.StreamReplayRequest, R.EventRatesRequest, R.DeletePreviewRequest, R.RetentionDryRunRequest, R.RetentionRunRequest,
  R.ArchiveRunRequest, R.ArchiveStatusRequest,
] as const;

type RequestInfo = (typeof REQUESTS)[number];
type FlyweightOf<I extends SbeMessageInfo> = InstanceType<I['decoder']>;

/** Flyweights for reading the ids of a datagram that failed to decode (for the error reply). */
const replyHeader = new MessageHeaderDecoder();
const replyFlyweights = new Map<number, RequestFlyweight & { controlSessionId?(): number }>(
  REQUESTS.map((r: RequestInfo): [number, RequestFlyweight] => [r.templateId, new r.decoder()]),
);

/**
 * Decodes one datagram into a request, or throws Malformed. Pure (apart from the reusable
 * flyweights), so it is fuzzed directly as well as through the socket. Dispatch goes through
 * a table built from the generated registry: template id -> block length and decoding.
 */
export class ControlRequestDecoder {
  private readonly header = new MessageHeaderDecoder();
  private readonly groupHeader = new GroupSizeEncodingDecoder();
  private readonly byTemplate = new Map<number, { blockLength: number; decode: (buf: Buffer, blockLength: number, version: number) => ControlRequest }>();

  constructor() {
    this.on(R.ConnectRequest, (x, buf) => {
      const r: ControlRequest = {
        type: 'connect',
        correlationId: x.correlationId(),
        responseStreamVersion: x.responseStreamVersion(),
        keepAliveTimeoutMs: x.keepAliveTimeoutMs(),
        responseChannel: x.responseChannel(),
        clientName: x.clientName(),
      };
      if (r.keepAliveTimeoutMs > MAX_KEEPALIVE_MS) fail(ErrorCode.INVALID_ARGUMENT, 'keepAliveTimeoutMs must be at most one day');
      return this.checkEnd(buf, x, r);
    });
    this.on(R.CloseSessionRequest, (x) => ({ type: 'close', ...ids(x) }));
    this.on(R.KeepAliveRequest, (x) => ({ type: 'keepAlive', ...ids(x) }));
    this.on(R.StartRecordingRequest, (x, buf, blockLength) => {
      const base = ids(x);
      this.checkGroup(buf, HEADER + blockLength, 2, MAX_ALIASES, 'aliases');
      const aliases: string[] = [];
      for (const a of x.aliases()) aliases.push(a.alias());
      return this.checkEnd(buf, x, { type: 'startRecording', ...base, aliases, channel: x.channel(), source: x.source() });
    });
    this.on(R.StopRecordingRequest, (x, buf) =>
      this.checkEnd(buf, x, { type: 'stopRecording', ...ids(x), recordingId: optionalId(x.recordingId(), 'recordingId'), channel: x.channel() }));
    this.on(R.ReplayRequest, (x, buf) =>
      this.checkEnd(buf, x, {
        type: 'replay',
        ...ids(x),
        recordingId: id(x.recordingId(), 'recordingId'),
        position: optionalId(x.position(), 'position'),
        length: optionalId(x.length(), 'length'),
        speed: speedOf(x.speed()),
        follow: bool(x.follow() as number, 'follow'),
        destination: x.destination(),
      }));
    this.on(R.TimeReplayRequest, (x, buf, blockLength) => {
      const base = {
        ...ids(x),
        fromUtcNs: optionalTime(x.fromUtcNs()),
        toUtcNs: optionalTime(x.toUtcNs()),
        speed: speedOf(x.speed()),
        follow: bool(x.follow() as number, 'follow'),
      };
      this.checkGroup(buf, HEADER + blockLength, 4, MAX_REPLAY_CHANNELS, 'channels');
      const channels: { channel: string; destination: string }[] = [];
      for (const c of x.channels()) channels.push({ channel: c.channel(), destination: c.destination() });
      return this.checkEnd(buf, x, { type: 'timeReplay', ...base, channels });
    });
    this.on(R.StopReplayRequest, (x) => ({ type: 'stopReplay', ...ids(x), replaySessionId: id(x.replaySessionId(), 'replaySessionId') }));
    this.on(R.ReadRequest, (x) => ({
      type: 'read',
      ...ids(x),
      recordingId: id(x.recordingId(), 'recordingId'),
      position: id(x.position(), 'position'),
      fragmentOffset: x.fragmentOffset(),
      maxBytes: x.maxBytes(),
      toUtcNs: optionalTime(x.toUtcNs()),
    }));
    this.on(R.ListRecordingsRequest, (x, buf) => {
      const set = x.states();
      const states = new Set<string>(set.choices());
      return this.checkEnd(buf, x, {
        type: 'listRecordings',
        ...ids(x),
        fromRecordingId: id(x.fromRecordingId(), 'fromRecordingId'),
        maxCount: x.maxCount(),
        states,
        fromUtcNs: optionalTime(x.fromUtcNs()),
        toUtcNs: optionalTime(x.toUtcNs()),
        channel: x.channel(),
      });
    });
    this.on(R.DescribeRecordingRequest, (x) => ({ type: 'describe', ...ids(x), recordingId: id(x.recordingId(), 'recordingId') }));
    this.on(R.RecordingPositionRequest, (x) => ({ type: 'position', ...ids(x), recordingId: id(x.recordingId(), 'recordingId') }));
    this.on(R.FindPositionRequest, (x) => ({ type: 'findPosition', ...ids(x), recordingId: id(x.recordingId(), 'recordingId'), utcNs: x.utcNs() }));
    this.on(R.ListChannelsRequest, (x) => ({ type: 'listChannels', ...ids(x) }));
    this.on(R.StatsRequest, (x) => ({ type: 'stats', ...ids(x) }));
    this.on(R.ArchiveRunRequest, (x) => ({ type: 'archiveRun', ...ids(x), dryRun: bool(x.dryRun() as number, 'dryRun') }));
    this.on(R.ArchiveStatusRequest, (x) => ({ type: 'archiveStatus', ...ids(x) }));
    this.on(R.AddQuarantineRequest, (x, buf) =>
      this.checkEnd(buf, x, { type: 'addQuarantine', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), channel: x.channel() }));
    this.on(R.RemoveQuarantineRequest, (x) => ({ type: 'removeQuarantine', ...ids(x), quarantineId: id(x.quarantineId(), 'quarantineId') }));
    this.on(R.ListQuarantinesRequest, (x) => ({ type: 'listQuarantines', ...ids(x) }));
    this.on(R.DeleteRequest, (x, buf) =>
      this.checkEnd(buf, x, { type: 'delete', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), channel: x.channel() }));
    this.on(R.ClusterStatusRequest, (x) => ({ type: 'clusterStatus', ...ids(x) }));
    this.on(R.RetentionDryRunRequest, (x) => ({ type: 'retentionDryRun', ...ids(x) }));
    this.on(R.RetentionRunRequest, (x) => ({ type: 'retentionRun', ...ids(x) }));
    this.on(R.SubscribeNotificationsRequest, (x) => {
      const mask = x.mask().raw();
      if ((mask & ~ALL_NOTIFICATIONS) !== 0) fail(ErrorCode.INVALID_ARGUMENT, `notification mask 0x${mask.toString(16)} has unknown bits`);
      return { type: 'subscribe', ...ids(x), mask };
    });
    this.on(R.StreamReplayRequest, (x, buf, blockLength) => {
      const base = {
        ...ids(x),
        recordingId: optionalId(x.recordingId(), 'recordingId'),
        position: optionalId(x.position(), 'position'),
        length: optionalId(x.length(), 'length'),
        fromUtcNs: optionalTime(x.fromUtcNs()),
        toUtcNs: optionalTime(x.toUtcNs()),
        follow: bool(x.follow() as number, 'follow'),
      };
      this.checkGroup(buf, HEADER + blockLength, 2, MAX_REPLAY_CHANNELS, 'channels');
      const channels: string[] = [];
      for (const c of x.channels()) channels.push(c.channel());
      return this.checkEnd(buf, x, { type: 'streamReplay', ...base, channels });
    });
    this.onConsoleRequests();
  }

  private onConsoleRequests(): void {
    this.on(R.EventRatesRequest, (x, buf) => {
      const buckets = x.bucketCount();
      if (buckets < 1 || buckets > MAX_RATE_BUCKETS) fail(ErrorCode.INVALID_ARGUMENT, `bucketCount ${buckets} must be from 1 to ${MAX_RATE_BUCKETS}`);
      return this.checkEnd(buf, x, { type: 'eventRates', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), buckets, channel: x.channel() });
    });
    this.on(R.DeletePreviewRequest, (x, buf) =>
      this.checkEnd(buf, x, { type: 'deletePreview', ...ids(x), fromUtcNs: x.fromUtcNs(), toUtcNs: x.toUtcNs(), channel: x.channel() }));
  }

  private on<I extends RequestInfo>(info: I, decode: (x: FlyweightOf<I>, buf: Buffer, blockLength: number) => ControlRequest): void {
    const flyweight = new info.decoder() as RequestFlyweight;
    this.byTemplate.set(info.templateId, {
      blockLength: info.blockLength,
      decode: (buf, blockLength, version) => decode(flyweight.wrap(buf, HEADER, blockLength, version) as FlyweightOf<I>, buf, blockLength),
    });
  }

  /** Reads what can be read for an error reply: [controlSessionId, correlationId] (0 when unreadable). */
  static replyIds(buf: Buffer): [number, bigint] {
    if (buf.length < HEADER) return [0, 0n];
    const x = replyFlyweights.get(replyHeader.wrap(buf, 0).templateId());
    if (x === undefined) return [0, 0n];
    // No block length or version is trusted: read each id only if the datagram holds it.
    x.wrap(buf, HEADER, 0, CONTROL_SCHEMA_VERSION);
    const read = <T>(get: () => T, fallback: T): T => {
      try {
        return get();
      } catch {
        return fallback;
      }
    };
    return [x.controlSessionId ? read(() => x.controlSessionId!(), 0) : 0, read(() => x.correlationId(), 0n)];
  }

  decode(buf: Buffer): ControlRequest {
    try {
      return this.decodeChecked(buf);
    } catch (err) {
      if (err instanceof Malformed) throw err;
      if (isVcrError(err)) throw new Malformed(err.code, err.message);
      // an id, position or count above 2^53-1: a value out of range, not a broken message
      if (err instanceof SbeUnsafeIntegerError) throw new Malformed(ErrorCode.INVALID_ARGUMENT, err.message);
      // RangeError from a flyweight reading past the end, or anything else the bytes provoke
      throw new Malformed(ErrorCode.MALFORMED_MESSAGE, `malformed message: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  private decodeChecked(buf: Buffer): ControlRequest {
    if (buf.length < HEADER) fail(ErrorCode.MALFORMED_MESSAGE, `datagram of ${buf.length} bytes is shorter than a message header`);
    const h = this.header.wrap(buf, 0);
    const blockLength = h.blockLength();
    const templateId = h.templateId();
    const schemaId = h.schemaId();
    const version = h.version();
    if (schemaId !== CONTROL_SCHEMA_ID) fail(ErrorCode.MALFORMED_MESSAGE, `schema id ${schemaId} is not ${CONTROL_SCHEMA_ID}`);
    if (version > CONTROL_SCHEMA_VERSION) {
      fail(ErrorCode.UNSUPPORTED_VERSION, `schema version ${version} is newer than ${CONTROL_SCHEMA_VERSION}`);
    }
    if (version < 1) fail(ErrorCode.MALFORMED_MESSAGE, `schema version ${version} is invalid`);
    const request = this.byTemplate.get(templateId);
    if (request === undefined) return fail(ErrorCode.UNKNOWN_TEMPLATE, `template id ${templateId} is not a request`);
    if (blockLength < request.blockLength) fail(ErrorCode.MALFORMED_MESSAGE, `block length ${blockLength} is shorter than ${request.blockLength}`);
    if (buf.length < HEADER + blockLength) {
      fail(ErrorCode.MALFORMED_MESSAGE, `datagram of ${buf.length} bytes is shorter than its block length ${blockLength}`);
    }
    return request.decode(buf, blockLength, version);
  }

  /** A group header must describe no more entries than the bytes left could hold. */
  private checkGroup(buf: Buffer, at: number, varHeaderBytes: number, maxCount: number, name: string): void {
    if (buf.length < at + GroupSizeEncodingDecoder.ENCODED_LENGTH) fail(ErrorCode.MALFORMED_MESSAGE, `group ${name} header is truncated`);
    const g = this.groupHeader.wrap(buf, at);
    const entryBlock = g.blockLength();
    const count = g.numInGroup();
    if (count > maxCount) fail(ErrorCode.INVALID_ARGUMENT, `group ${name} has ${count} entries (at most ${maxCount})`);
    if (count * (entryBlock + varHeaderBytes) > buf.length - at - GroupSizeEncodingDecoder.ENCODED_LENGTH) {
      fail(ErrorCode.MALFORMED_MESSAGE, `group ${name} claims ${count} entries that the datagram cannot hold`);
    }
  }

  /** The decoded message must lie inside the datagram; returns the request. */
  private checkEnd(buf: Buffer, x: { encodedLength(): number }, request: ControlRequest): ControlRequest {
    if (HEADER + x.encodedLength() > buf.length) fail(ErrorCode.MALFORMED_MESSAGE, 'message is truncated');
    return request;
  }
}

function ids(x: { controlSessionId(): number; correlationId(): bigint }): { controlSessionId: number; correlationId: bigint } {
  return { controlSessionId: x.controlSessionId(), correlationId: x.correlationId() };
}

export { Malformed as MalformedRequest };
