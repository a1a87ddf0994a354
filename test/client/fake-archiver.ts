/**
 * A fake archiver for client tests: a real UDP socket on 127.0.0.1 that decodes requests with
 * the generated codecs and answers them from an in-memory model of recordings, with fault
 * injection (drop answers, drop data messages, send them out of order, send garbage).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  BooleanType,
  ControlResponseEncoder,
  ControlResponseCode,
  DescribeRecordingRequestDecoder,
  FindPositionRequestDecoder,
  ListRecordingsRequestDecoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
  ReadChunkEncoder,
  ReadRequestDecoder,
  RecordingDescriptorEncoder,
  RecordingStartedEncoder,
  RecordingState,
  TEMPLATE_IDS,
  messageByTemplateId,
} from '../../codecs/generated/control/index.js';

export interface FakeEvent {
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  payload: Buffer;
}

export interface FakeRecording {
  recordingId: number;
  channel: string;
  aliases: string[];
  stopped: boolean;
  events: FakeEvent[];
  stopPosition: number;
}

export interface Request {
  templateId: number;
  controlSessionId: number;
  correlationId: bigint;
  bytes: Buffer;
  from: RemoteInfo;
}

/** Decides what to do with one outgoing datagram list: return the datagrams to really send. */
export type Mangler = (req: Request, datagrams: Buffer[]) => Buffer[];

const HDR = MessageHeaderDecoder.ENCODED_LENGTH;
export const T = {
  connect: TEMPLATE_IDS.ConnectRequest,
  close: TEMPLATE_IDS.CloseSessionRequest,
  keepAlive: TEMPLATE_IDS.KeepAliveRequest,
  startRecording: TEMPLATE_IDS.StartRecordingRequest,
  stopRecording: TEMPLATE_IDS.StopRecordingRequest,
  read: TEMPLATE_IDS.ReadRequest,
  listRecordings: TEMPLATE_IDS.ListRecordingsRequest,
  describe: TEMPLATE_IDS.DescribeRecordingRequest,
  position: TEMPLATE_IDS.RecordingPositionRequest,
  findPosition: TEMPLATE_IDS.FindPositionRequest,
  subscribe: TEMPLATE_IDS.SubscribeNotificationsRequest,
} as const;

export function frameLength(payloadLength: number): number {
  return 32 + Math.ceil(payloadLength / 8) * 8;
}

export function makeRecording(recordingId: number, channel: string, payloads: Buffer[], utcs: bigint[], stopped = true): FakeRecording {
  let position = 0;
  const events = payloads.map((payload, i) => {
    const e = { position, utcNs: utcs[i]!, monoNs: 1_000n + utcs[i]! - utcs[0]!, payload };
    position += frameLength(payload.length);
    return e;
  });
  return { recordingId, channel, aliases: [], stopped, events, stopPosition: position };
}

export class FakeArchiver {
  readonly requests: Request[] = [];
  readonly recordings = new Map<number, FakeRecording>();
  sessionId = 7;
  /** answer every request with this error code instead (0: off) */
  errorFor = new Map<number, { code: number; times: number }>();
  mangle: Mangler = (_r, d) => d;
  readChunkCap = 1000;
  private readonly header = new MessageHeaderDecoder();
  private readonly hdrEnc = new MessageHeaderEncoder();
  private readonly buf = Buffer.alloc(65536);

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg, from) => this.onMessage(msg, from));
  }

  static async start(): Promise<FakeArchiver> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new FakeArchiver(s);
  }

  get endpoint(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  of(templateId: number): Request[] {
    return this.requests.filter((r) => r.templateId === templateId);
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }

  send(to: RemoteInfo, datagram: Buffer): void {
    this.socket.send(datagram, to.port, to.address);
  }

  notifyRecordingStarted(to: RemoteInfo, recordingId: number, channel: string): void {
    const e = new RecordingStartedEncoder().wrapAndApplyHeader(this.buf, 0, this.hdrEnc);
    e.recordingId(recordingId).startPosition(0).startUtcNs(5n);
    e.channel(channel);
    e.source('udp://127.0.0.1:9');
    this.send(to, Buffer.from(this.buf.subarray(0, HDR + e.encodedLength())));
  }

  response(correlationId: bigint, relevantId: number, dataCount = 0, errorCode = 0, message = ''): Buffer {
    const e = new ControlResponseEncoder().wrapAndApplyHeader(this.buf, 0, this.hdrEnc);
    e.controlSessionId(this.sessionId)
      .correlationId(correlationId)
      .relevantId(relevantId)
      .code(errorCode ? ControlResponseCode.ERROR : ControlResponseCode.OK)
      .errorCode(errorCode)
      .dataCount(dataCount);
    e.errorMessage(message);
    return Buffer.from(this.buf.subarray(0, HDR + e.encodedLength()));
  }

  descriptor(correlationId: bigint, r: FakeRecording): Buffer {
    const e = new RecordingDescriptorEncoder().wrapAndApplyHeader(this.buf, 0, this.hdrEnc);
    const last = r.events[r.events.length - 1];
    e.controlSessionId(this.sessionId)
      .correlationId(correlationId)
      .recordingId(r.recordingId)
      .state(r.stopped ? RecordingState.STOPPED : RecordingState.RECORDING)
      .startPosition(0)
      .stopPosition(r.stopPosition)
      .startUtcNs(r.events[0]?.utcNs ?? 0n)
      .stopUtcNs(last?.utcNs ?? 0n)
      .startMonoNs(r.events[0]?.monoNs ?? 0n)
      .stopMonoNs(last?.monoNs ?? 0n)
      .eventCount(r.events.length)
      .segmentLength(1 << 20);
    const g = e.aliasesCount(r.aliases.length);
    for (const a of r.aliases) g.next().alias(a);
    e.channel(r.channel);
    e.source('udp://127.0.0.1:9');
    return Buffer.from(this.buf.subarray(0, HDR + e.encodedLength()));
  }

  private onMessage(msg: Buffer, from: RemoteInfo): void {
    const h = this.header.wrap(msg, 0);
    const templateId = h.templateId();
    const info = messageByTemplateId(templateId);
    if (info === undefined) return;
    const ids = new info.decoder().wrap(msg, HDR, h.blockLength(), h.version());
    const controlSessionId = 'controlSessionId' in ids ? ids.controlSessionId() : 0;
    const correlationId = 'correlationId' in ids ? ids.correlationId() : 0n;
    const req: Request = { templateId, controlSessionId, correlationId, bytes: Buffer.from(msg), from };
    this.requests.push(req);
    const err = this.errorFor.get(templateId);
    let out: Buffer[];
    if (err && err.times > 0) {
      err.times--;
      out = [this.response(correlationId, 0, 0, err.code, `injected error ${err.code}`)];
    } else {
      out = this.answer(req, msg, h.blockLength(), h.version());
    }
    for (const d of this.mangle(req, out)) this.send(from, d);
  }

  private answer(req: Request, msg: Buffer, blockLength: number, version: number): Buffer[] {
    const c = req.correlationId;
    switch (req.templateId) {
      case T.connect:
        return [this.response(c, this.sessionId)];
      case T.listRecordings: {
        const d = new ListRecordingsRequestDecoder().wrap(msg, HDR, blockLength, version);
        const from = d.fromRecordingId();
        const max = d.maxCount();
        const fromUtc = d.fromUtcNs();
        d.states();
        const channel = d.channel();
        const matches = [...this.recordings.values()]
          .filter((r) => r.recordingId >= from && (channel === '' || r.channel === channel || r.aliases.includes(channel)))
          .filter((r) => fromUtc === ListRecordingsRequestDecoder.fromUtcNsNullValue() || (r.events[r.events.length - 1]?.utcNs ?? 0n) >= fromUtc)
          .slice(0, max);
        return [...matches.map((r) => this.descriptor(c, r)), this.response(c, matches.length, matches.length)];
      }
      case T.describe: {
        const d = new DescribeRecordingRequestDecoder().wrap(msg, HDR, blockLength, version);
        const r = this.recordings.get(d.recordingId());
        if (!r) return [this.response(c, 0, 0, 20, 'unknown recording')];
        return [this.descriptor(c, r), this.response(c, r.recordingId, 1)];
      }
      case T.findPosition: {
        const d = new FindPositionRequestDecoder().wrap(msg, HDR, blockLength, version);
        const r = this.recordings.get(d.recordingId());
        if (!r) return [this.response(c, 0, 0, 20, 'unknown recording')];
        const at = r.events.find((e) => e.utcNs >= d.utcNs());
        return [this.response(c, at ? at.position : r.stopPosition)];
      }
      case T.read:
        return this.read(c, new ReadRequestDecoder().wrap(msg, HDR, blockLength, version));
      default:
        return [this.response(c, 42)];
    }
  }

  private read(c: bigint, d: ReadRequestDecoder): Buffer[] {
    const r = this.recordings.get(d.recordingId());
    if (!r) return [this.response(c, 0, 0, 20, 'unknown recording')];
    const to = d.toUtcNs() === ReadRequestDecoder.toUtcNsNullValue() ? null : d.toUtcNs();
    let idx = r.events.findIndex((e) => e.position >= d.position());
    if (idx < 0) idx = r.events.length;
    let fo = d.fragmentOffset();
    let budget = Math.min(d.maxBytes(), this.readChunkCap);
    const parts: { e: FakeEvent; fo: number; bytes: Buffer }[] = [];
    while (idx < r.events.length && budget > 0) {
      const e = r.events[idx]!;
      if (to !== null && e.utcNs > to) break;
      const remaining = e.payload.length - fo;
      if (remaining <= budget) {
        parts.push({ e, fo, bytes: e.payload.subarray(fo) });
        budget -= remaining;
        idx++;
        fo = 0;
      } else {
        if (parts.length > 0) break;
        parts.push({ e, fo, bytes: e.payload.subarray(fo, fo + budget) });
        fo += budget;
        break;
      }
    }
    const nextPosition = idx < r.events.length ? r.events[idx]!.position : r.stopPosition;
    const end = (idx >= r.events.length && r.stopped) || (to !== null && idx < r.events.length && fo === 0 && r.events[idx]!.utcNs > to);
    const e = new ReadChunkEncoder().wrapAndApplyHeader(this.buf, 0, this.hdrEnc);
    e.controlSessionId(this.sessionId)
      .correlationId(c)
      .recordingId(r.recordingId)
      .nextPosition(nextPosition)
      .nextFragmentOffset(fo)
      .endOfRecording(end ? BooleanType.TRUE : BooleanType.FALSE);
    const g = e.eventsCount(parts.length);
    for (const p of parts) {
      g.next().position(p.e.position).utcNs(p.e.utcNs).monoNs(p.e.monoNs).eventLength(p.e.payload.length).fragmentOffset(p.fo).flags(0).payload(p.bytes);
    }
    const chunk = Buffer.from(this.buf.subarray(0, HDR + e.encodedLength()));
    return [chunk, this.response(c, nextPosition, 1)];
  }
}
