/**
 * Test support for the archiver: launch a real archiver (temp dir, ephemeral control port on
 * 127.0.0.1, silent logs) and a raw control client that speaks the wire protocol with the
 * generated codecs over a real UDP socket, exposing every datagram it receives.
 */
import { createSocket, type Socket } from 'node:dgram';
import { rmSync } from 'node:fs';
import pino from 'pino';
import {
  ControlResponseDecoder,
  MessageHeaderDecoder,
  ReadChunkDecoder,
  RecordingDescriptorDecoder,
  RecordingProgressDecoder,
  RecordingStoppedDecoder,
  ReplayEndedDecoder,
  StatsSnapshotDecoder,
  messageByTemplateId,
} from '../../codecs/generated/control/index.js';
import { Archiver } from '../../src/archiver/archiver.js';
import { applyConfigDocument, defaultConfig } from '../../src/archiver/archiver-config.js';
import { ControlRequestProxy, type Ids } from '../../src/client/control-request-proxy.js';
import type { EpochNanoClock, NanoClock } from '../../src/util/clock.js';
import { tempDir, until } from '../helpers/wait.js';

export { tempDir, until };

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function launchArchiver(
  doc: Record<string, unknown> = {},
  dir = tempDir('vcr-arch-'),
  clocks: { nanoClock?: NanoClock; utcClock?: EpochNanoClock } = {},
): Promise<{ archiver: Archiver; dir: string }> {
  const config = applyConfigDocument(defaultConfig(dir), { control: '127.0.0.1:0', logLevel: 'silent', ...doc });
  const archiver = await Archiver.launch(config, { logger: pino({ level: 'silent' }), ...clocks });
  return { archiver, dir };
}

export interface Response {
  controlSessionId: number;
  correlationId: bigint;
  relevantId: number;
  ok: boolean;
  errorCode: number;
  dataCount: number;
  errorMessage: string;
}

const header = new MessageHeaderDecoder();
const responseDecoder = new ControlResponseDecoder();

export function templateOf(buf: Buffer): number {
  return buf.length >= MessageHeaderDecoder.ENCODED_LENGTH ? header.wrap(buf, 0).templateId() : -1;
}

export function decodeResponse(buf: Buffer): Response {
  const d = responseDecoder.wrapAndApplyHeader(buf, 0, header);
  return {
    controlSessionId: d.controlSessionId(),
    correlationId: d.correlationId(),
    relevantId: d.relevantId(),
    ok: d.code() === 0,
    errorCode: d.errorCode() as number,
    dataCount: d.dataCount(),
    errorMessage: d.errorMessage(),
  };
}

/** Correlation id of a response or data message (templates 100-199). */
function correlationOf(buf: Buffer): bigint | undefined {
  const t = templateOf(buf);
  const info = t >= 100 && t <= 199 ? messageByTemplateId(t) : undefined;
  if (info === undefined) return undefined;
  try {
    const d = new info.decoder().wrapAndApplyHeader(buf, 0, header);
    return 'correlationId' in d ? d.correlationId() : undefined;
  } catch {
    return undefined; // too short
  }
}

export class RawClient {
  readonly socket: Socket;
  readonly proxy = new ControlRequestProxy();
  readonly received: Buffer[] = [];
  readonly notifications: Buffer[] = [];
  sessionId = 0;
  private nextCorrelation = 1n;

  private constructor(
    readonly host: string,
    readonly port: number,
  ) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (m) => {
      if (templateOf(m) >= 200) this.notifications.push(m);
      else this.received.push(m);
    });
  }

  /** Connects from a socket bound on bindHost (any 127.x address is this host too). */
  static async connect(port: number, keepAliveTimeoutMs = 0, bindHost = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient('127.0.0.1', port);
    await new Promise<void>((r) => c.socket.bind(0, bindHost, () => r()));
    const corr = c.correlation();
    const { response } = await c.exchange(c.proxy.connect(corr, keepAliveTimeoutMs, '', 'test'), corr);
    if (!response.ok) throw new Error(`connect failed: ${response.errorMessage}`);
    c.sessionId = response.relevantId;
    return c;
  }

  static async bare(port: number, bindHost = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient('127.0.0.1', port);
    await new Promise<void>((r) => c.socket.bind(0, bindHost, () => r()));
    return c;
  }

  correlation(): bigint {
    return this.nextCorrelation++;
  }

  ids(correlationId = this.correlation()): Ids {
    return { controlSessionId: this.sessionId, correlationId };
  }

  send(buf: Buffer): void {
    this.socket.send(buf, this.port, this.host);
  }

  /** Sends buf and waits for the final response with correlationId; returns it and the data messages before it. */
  async exchange(buf: Buffer, correlationId: bigint, timeoutMs = 5000): Promise<{ response: Response; data: Buffer[] }> {
    this.send(buf);
    return this.awaitResponse(correlationId, timeoutMs);
  }

  async awaitResponse(correlationId: bigint, timeoutMs = 5000): Promise<{ response: Response; data: Buffer[] }> {
    const final = await until(
      `response to ${correlationId}`,
      () => this.received.find((m) => templateOf(m) === 100 && correlationOf(m) === correlationId),
      timeoutMs,
    );
    const data = this.received.filter((m) => templateOf(m) !== 100 && correlationOf(m) === correlationId);
    // forget what was consumed so later exchanges with other ids stay cheap
    for (let i = this.received.length - 1; i >= 0; i--) if (correlationOf(this.received[i]!) === correlationId) this.received.splice(i, 1);
    return { response: decodeResponse(final), data };
  }

  /** Builds a request with fresh ids, sends it, returns the answer. */
  async call(make: (ids: Ids) => Buffer, timeoutMs = 5000): Promise<{ response: Response; data: Buffer[] }> {
    const ids = this.ids();
    return this.exchange(make(ids), ids.correlationId, timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}


export function decodeChunk(buf: Buffer) {
  const d = new ReadChunkDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  const out = {
    recordingId: d.recordingId(),
    nextPosition: d.nextPosition(),
    nextFragmentOffset: d.nextFragmentOffset(),
    endOfRecording: (d.endOfRecording() as number) === 1,
    events: [] as { position: number; utcNs: bigint; monoNs: bigint; eventLength: number; fragmentOffset: number; payload: Buffer }[],
  };
  for (const e of d.events()) {
    out.events.push({
      position: e.position(),
      utcNs: e.utcNs(),
      monoNs: e.monoNs(),
      eventLength: e.eventLength(),
      fragmentOffset: e.fragmentOffset(),
      payload: Buffer.from(e.payload()),
    });
  }
  return out;
}

export function decodeDescriptor(buf: Buffer) {
  const d = new RecordingDescriptorDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  const r = {
    recordingId: d.recordingId(),
    state: d.state() as number,
    startPosition: d.startPosition(),
    stopPosition: d.stopPosition(),
    startUtcNs: d.startUtcNs(),
    stopUtcNs: d.stopUtcNs(),
    eventCount: d.eventCount(),
    aliases: [] as string[],
    channel: '',
    source: '',
  };
  for (const a of d.aliases()) r.aliases.push(a.alias());
  r.channel = d.channel();
  r.source = d.source();
  return r;
}

export function decodeStats(bufs: Buffer[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const b of bufs) {
    const d = new StatsSnapshotDecoder().wrapAndApplyHeader(b, 0, new MessageHeaderDecoder());
    for (const c of d.counters()) {
      const v = c.value();
      m.set(c.name(), v);
    }
  }
  return m;
}

export function decodeStopped(buf: Buffer) {
  const d = new RecordingStoppedDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  return {
    recordingId: d.recordingId(),
    stopPosition: d.stopPosition(),
    eventCount: d.eventCount(),
    reason: d.reason() as number,
    errorCode: d.errorCode() as number,
    message: d.message(),
  };
}

export function decodeProgress(buf: Buffer) {
  const d = new RecordingProgressDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  return { recordingId: d.recordingId(), position: d.position(), eventCount: d.eventCount() };
}

export function decodeReplayEnded(buf: Buffer) {
  const d = new ReplayEndedDecoder().wrapAndApplyHeader(buf, 0, new MessageHeaderDecoder());
  return { replaySessionId: Number(d.replaySessionId()), eventsSent: Number(d.eventsSent()), bytesSent: Number(d.bytesSent()), reason: d.reason() as number };
}

/** Reads a whole recording with ReadRequests (reassembling fragments); returns the payloads. */
export async function readAll(c: RawClient, recordingId: number, maxBytes = 0): Promise<{ payloads: Buffer[]; chunks: number }> {
  const payloads: Buffer[] = [];
  let position = 0;
  let fragmentOffset = 0;
  let partial: Buffer[] = [];
  let chunks = 0;
  for (;;) {
    const { response, data } = await c.call((ids) => c.proxy.read(ids, { recordingId, position, fragmentOffset, maxBytes, toUtcNs: null }));
    if (!response.ok) throw new Error(`read failed: ${response.errorMessage} (${response.errorCode})`);
    const chunk = decodeChunk(data[0]!);
    chunks++;
    for (const e of chunk.events) {
      if (e.fragmentOffset + e.payload.length < e.eventLength) {
        partial.push(e.payload);
        continue;
      }
      if (e.fragmentOffset > 0) {
        partial.push(e.payload);
        payloads.push(Buffer.concat(partial));
        partial = [];
      } else payloads.push(e.payload);
    }
    position = chunk.nextPosition;
    fragmentOffset = chunk.nextFragmentOffset;
    if (chunk.endOfRecording) return { payloads, chunks };
    if (chunk.events.length === 0) return { payloads, chunks };
  }
}
