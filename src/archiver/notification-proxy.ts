/**
 * Outbound notifications (templates 200-299): encodes each once and sends it to every control
 * session subscribed to its kind (through the control socket) and to every configured
 * destination (each through its own socket, which carries its multicast interface and TTL).
 * Best effort: nothing is re-sent (docs/PROTOCOL.md, Notifications).
 */
import {
  ArchivePassEndedEncoder,
  ErrorNotificationEncoder,
  MessageHeaderEncoder,
  NodeStatusChangedEncoder,
  RecordingProgressEncoder,
  RecordingStartedEncoder,
  RecordingStoppedEncoder,
  ReplayEndedEncoder,
  RepairProgressEncoder,
  RetentionRunEndedEncoder,
  ReplayStartedEncoder,
  StopReason,
  BooleanType,
} from '../../codecs/generated/control/index.js';
import type { ErrorCode as WireErrorCode } from '../../codecs/generated/control/index.js';
import { CONTROL_HEADER_LENGTH as HEADER_LENGTH, MAX_ERROR_TEXT, NotificationKind, NULL_TIME } from '../protocol/constants.js';
import type { DatagramSender, UdpEndpoint } from './udp-endpoint.js';

export type StopReasonName = 'REQUESTED' | 'SOURCE_ENDED' | 'ERROR' | 'SHUTDOWN' | 'CLIENT_GONE';

export interface NotificationTarget {
  mask: number;
  responseHost: string;
  responsePort: number;
}

/** A configured destination that receives every notification. */
export interface NotificationDestination {
  endpoint: UdpEndpoint;
  sender: DatagramSender;
}

const REASONS: Record<StopReasonName, StopReason> = {
  REQUESTED: StopReason.REQUESTED,
  SOURCE_ENDED: StopReason.SOURCE_ENDED,
  ERROR: StopReason.ERROR,
  SHUTDOWN: StopReason.SHUTDOWN,
  CLIENT_GONE: StopReason.CLIENT_GONE,
};

export class NotificationProxy {
  private readonly scratch = Buffer.alloc(65536);
  private readonly header = new MessageHeaderEncoder();
  private readonly started = new RecordingStartedEncoder();
  private readonly progress = new RecordingProgressEncoder();
  private readonly stopped = new RecordingStoppedEncoder();
  private readonly replayStartedEnc = new ReplayStartedEncoder();
  private readonly replayEndedEnc = new ReplayEndedEncoder();
  private readonly errorEnc = new ErrorNotificationEncoder();
  private readonly nodeStatusEnc = new NodeStatusChangedEncoder();
  private readonly repairEnc = new RepairProgressEncoder();
  private readonly retentionEnc = new RetentionRunEndedEncoder();
  private readonly archivePassEnc = new ArchivePassEndedEncoder();
  sent = 0;

  constructor(
    private readonly sender: DatagramSender,
    private readonly targets: () => Iterable<NotificationTarget>,
    private readonly destinations: readonly NotificationDestination[] = [],
  ) {}

  private publish(kind: number, bodyLength: number): void {
    const len = HEADER_LENGTH + bodyLength;
    const buf = Buffer.allocUnsafe(len);
    this.scratch.copy(buf, 0, 0, len);
    for (const t of this.targets()) {
      if ((t.mask & kind) !== 0) {
        this.sender.send(buf, t.responsePort, t.responseHost);
        this.sent++;
      }
    }
    for (const d of this.destinations) {
      d.sender.send(buf, d.endpoint.port, d.endpoint.host);
      this.sent++;
    }
  }

  recordingStarted(recordingId: number, startPosition: number, startUtcNs: bigint, channel: string, source: string): void {
    const e = this.started
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .recordingId(recordingId)
      .startPosition(startPosition)
      .startUtcNs(startUtcNs);
    e.channel(channel);
    e.source(source);
    this.publish(NotificationKind.recording, e.encodedLength());
  }

  recordingProgress(
    recordingId: number,
    position: number,
    eventCount: number,
    lastUtcNs: bigint,
    kernelDrops: number,
    droppedEvents: number,
  ): void {
    const e = this.progress
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .recordingId(recordingId)
      .position(position)
      .eventCount(eventCount)
      .lastUtcNs(lastUtcNs)
      .kernelDrops(kernelDrops)
      .droppedEvents(droppedEvents);
    this.publish(NotificationKind.progress, e.encodedLength());
  }

  recordingStopped(
    recordingId: number,
    stopPosition: number,
    stopUtcNs: bigint,
    eventCount: number,
    reason: StopReasonName,
    errorCode: number,
    message: string,
  ): void {
    const e = this.stopped
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .recordingId(recordingId)
      .stopPosition(stopPosition)
      .stopUtcNs(stopUtcNs)
      .eventCount(eventCount)
      .reason(REASONS[reason])
      .errorCode(errorCode as WireErrorCode);
    e.message(message.slice(0, MAX_ERROR_TEXT));
    this.publish(NotificationKind.recording, e.encodedLength());
  }

  replayStarted(replaySessionId: number, recordingCount: number, fromUtcNs: bigint | null, toUtcNs: bigint | null, speed: number): void {
    const e = this.replayStartedEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .replaySessionId(replaySessionId)
      .recordingCount(recordingCount)
      .fromUtcNs(fromUtcNs ?? NULL_TIME)
      .toUtcNs(toUtcNs ?? NULL_TIME)
      .speed(speed);
    this.publish(NotificationKind.replay, e.encodedLength());
  }

  replayEnded(
    replaySessionId: number,
    eventsSent: number,
    bytesSent: number,
    reason: StopReasonName,
    errorCode: number,
    message: string,
  ): void {
    const e = this.replayEndedEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .replaySessionId(replaySessionId)
      .eventsSent(eventsSent)
      .bytesSent(bytesSent)
      .reason(REASONS[reason])
      .errorCode(errorCode as WireErrorCode);
    e.message(message.slice(0, MAX_ERROR_TEXT));
    this.publish(NotificationKind.replay, e.encodedLength());
  }

  error(errorCode: number, relevantId: number, utcNs: bigint, message: string): void {
    const e = this.errorEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .errorCode(errorCode as WireErrorCode)
      .relevantId(relevantId)
      .utcNs(utcNs);
    e.message(message.slice(0, MAX_ERROR_TEXT));
    this.publish(NotificationKind.errors, e.encodedLength());
  }

  nodeStatusChanged(nodeId: string, up: boolean, utcNs: bigint): void {
    const e = this.nodeStatusEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .up(up ? BooleanType.TRUE : BooleanType.FALSE)
      .utcNs(utcNs);
    e.nodeId(nodeId);
    this.publish(NotificationKind.cluster, e.encodedLength());
  }

  repairProgress(segmentsRepaired: number, segmentsRemaining: number, bytesCopied: number, done: boolean): void {
    const e = this.repairEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .segmentsRepaired(segmentsRepaired)
      .segmentsRemaining(segmentsRemaining)
      .bytesCopied(bytesCopied)
      .done(done ? BooleanType.TRUE : BooleanType.FALSE);
    this.publish(NotificationKind.cluster, e.encodedLength());
  }

  retentionRunEnded(r: { runId: number; startUtcNs: bigint; endUtcNs: bigint; channels: number; events: number; bytes: number; errors: number; requested: boolean }): void {
    const e = this.retentionEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .runId(r.runId)
      .startUtcNs(r.startUtcNs)
      .endUtcNs(r.endUtcNs)
      .channels(r.channels)
      .eventsDeleted(r.events)
      .bytesDeleted(r.bytes)
      .errors(r.errors)
      .requested(r.requested ? BooleanType.TRUE : BooleanType.FALSE);
    this.publish(NotificationKind.retention, e.encodedLength());
  }

  /** An archive pass ended (sent with the recording kind: it moves recorded data). */
  archivePassEnded(passId: number, dryRun: boolean, segmentsArchived: number, segmentsFailed: number, bytesIn: number, bytesOut: number, utcNs: bigint): void {
    const e = this.archivePassEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .passId(passId)
      .dryRun(dryRun ? BooleanType.TRUE : BooleanType.FALSE)
      .segmentsArchived(segmentsArchived)
      .segmentsFailed(segmentsFailed)
      .bytesIn(bytesIn)
      .bytesOut(bytesOut)
      .utcNs(utcNs);
    this.publish(NotificationKind.recording, e.encodedLength());
  }
}
