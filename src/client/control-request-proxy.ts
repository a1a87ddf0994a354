/**
 * Outbound side of the control protocol: encodes each request with the generated SBE codecs
 * into a fresh Buffer holding exactly one datagram. It neither sends nor keeps state: the
 * caller keeps the bytes so a retry re-sends the very same message (same correlationId).
 */
// one file per codec rather than index.js: the CLI starts faster loading only what it uses
import { AddQuarantineRequestEncoder } from '../../codecs/generated/control/AddQuarantineRequestEncoder.js';
import { BooleanType } from '../../codecs/generated/control/BooleanType.js';
import { ArchiveRunRequestEncoder } from '../../codecs/generated/control/ArchiveRunRequestEncoder.js';
import { ArchiveStatusRequestEncoder } from '../../codecs/generated/control/ArchiveStatusRequestEncoder.js';
import { CloseSessionRequestEncoder } from '../../codecs/generated/control/CloseSessionRequestEncoder.js';
import { ClusterStatusRequestEncoder } from '../../codecs/generated/control/ClusterStatusRequestEncoder.js';
import { ConnectRequestEncoder } from '../../codecs/generated/control/ConnectRequestEncoder.js';
import { DeletePreviewRequestEncoder } from '../../codecs/generated/control/DeletePreviewRequestEncoder.js';
import { DeleteRequestEncoder } from '../../codecs/generated/control/DeleteRequestEncoder.js';
import { EventRatesRequestEncoder } from '../../codecs/generated/control/EventRatesRequestEncoder.js';
import { DescribeRecordingRequestEncoder } from '../../codecs/generated/control/DescribeRecordingRequestEncoder.js';
import { FindPositionRequestEncoder } from '../../codecs/generated/control/FindPositionRequestEncoder.js';
import { KeepAliveRequestEncoder } from '../../codecs/generated/control/KeepAliveRequestEncoder.js';
import { ListChannelsRequestEncoder } from '../../codecs/generated/control/ListChannelsRequestEncoder.js';
import { ListQuarantinesRequestEncoder } from '../../codecs/generated/control/ListQuarantinesRequestEncoder.js';
import { ListRecordingsRequestEncoder } from '../../codecs/generated/control/ListRecordingsRequestEncoder.js';
import { MessageHeaderEncoder } from '../../codecs/generated/control/MessageHeaderEncoder.js';
import { ReadRequestEncoder } from '../../codecs/generated/control/ReadRequestEncoder.js';
import { RecordingPositionRequestEncoder } from '../../codecs/generated/control/RecordingPositionRequestEncoder.js';
import { RemoveQuarantineRequestEncoder } from '../../codecs/generated/control/RemoveQuarantineRequestEncoder.js';
import { ReplayRequestEncoder } from '../../codecs/generated/control/ReplayRequestEncoder.js';
import { RetentionDryRunRequestEncoder } from '../../codecs/generated/control/RetentionDryRunRequestEncoder.js';
import { RetentionRunRequestEncoder } from '../../codecs/generated/control/RetentionRunRequestEncoder.js';
import { StartRecordingRequestEncoder } from '../../codecs/generated/control/StartRecordingRequestEncoder.js';
import { StatsRequestEncoder } from '../../codecs/generated/control/StatsRequestEncoder.js';
import { StopRecordingRequestEncoder } from '../../codecs/generated/control/StopRecordingRequestEncoder.js';
import { StopReplayRequestEncoder } from '../../codecs/generated/control/StopReplayRequestEncoder.js';
import { StreamReplayRequestEncoder } from '../../codecs/generated/control/StreamReplayRequestEncoder.js';
import { SubscribeNotificationsRequestEncoder } from '../../codecs/generated/control/SubscribeNotificationsRequestEncoder.js';
import { TimeReplayRequestEncoder } from '../../codecs/generated/control/TimeReplayRequestEncoder.js';
import { CONTROL_HEADER_LENGTH as HEADER_LENGTH, MAX_MESSAGE, NotificationKind, NULL_ID, NULL_TIME } from '../protocol/constants.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { RecordingStateName } from './types.js';

export interface Ids {
  controlSessionId: number;
  correlationId: bigint;
}

export class ControlRequestProxy {
  private readonly buffer = Buffer.alloc(64 * 1024);
  private readonly header = new MessageHeaderEncoder();
  // one flyweight per request type, reused: encoding a request allocates nothing
  private readonly addQuarantineRequest = new AddQuarantineRequestEncoder();
  private readonly closeSessionRequest = new CloseSessionRequestEncoder();
  private readonly clusterStatusRequest = new ClusterStatusRequestEncoder();
  private readonly eventRatesRequest = new EventRatesRequestEncoder();
  private readonly deletePreviewRequest = new DeletePreviewRequestEncoder();
  private readonly retentionDryRunRequest = new RetentionDryRunRequestEncoder();
  private readonly retentionRunRequest = new RetentionRunRequestEncoder();
  private readonly connectRequest = new ConnectRequestEncoder();
  private readonly deleteRequest = new DeleteRequestEncoder();
  private readonly describeRecordingRequest = new DescribeRecordingRequestEncoder();
  private readonly findPositionRequest = new FindPositionRequestEncoder();
  private readonly keepAliveRequest = new KeepAliveRequestEncoder();
  private readonly listChannelsRequest = new ListChannelsRequestEncoder();
  private readonly listQuarantinesRequest = new ListQuarantinesRequestEncoder();
  private readonly listRecordingsRequest = new ListRecordingsRequestEncoder();
  private readonly readRequest = new ReadRequestEncoder();
  private readonly recordingPositionRequest = new RecordingPositionRequestEncoder();
  private readonly removeQuarantineRequest = new RemoveQuarantineRequestEncoder();
  private readonly replayRequest = new ReplayRequestEncoder();
  private readonly startRecordingRequest = new StartRecordingRequestEncoder();
  private readonly statsRequest = new StatsRequestEncoder();
  private readonly archiveRunRequest = new ArchiveRunRequestEncoder();
  private readonly archiveStatusRequest = new ArchiveStatusRequestEncoder();
  private readonly stopRecordingRequest = new StopRecordingRequestEncoder();
  private readonly stopReplayRequest = new StopReplayRequestEncoder();
  private readonly subscribeNotificationsRequest = new SubscribeNotificationsRequestEncoder();
  private readonly timeReplayRequest = new TimeReplayRequestEncoder();
  private readonly streamReplayRequest = new StreamReplayRequestEncoder();

  connect(correlationId: bigint, keepAliveTimeoutMs: number, responseChannel: string, clientName: string): Buffer {
    return this.encode('ConnectRequest', () => {
      const e = this.connectRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.correlationId(correlationId)
        .responseStreamVersion(ConnectRequestEncoder.SCHEMA_VERSION)
        .keepAliveTimeoutMs(keepAliveTimeoutMs);
      e.responseChannel(responseChannel);
      e.clientName(clientName);
      return e.encodedLength();
    });
  }

  closeSession(ids: Ids): Buffer {
    return this.encode('CloseSessionRequest', () => {
      const e = this.closeSessionRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  keepAlive(ids: Ids): Buffer {
    return this.encode('KeepAliveRequest', () => {
      const e = this.keepAliveRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  startRecording(ids: Ids, channel: string, source: string, aliases: string[]): Buffer {
    return this.encode('StartRecordingRequest', () => {
      const e = this.startRecordingRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      const g = e.aliasesCount(aliases.length);
      for (const a of aliases) g.next().alias(a);
      e.channel(channel);
      e.source(source);
      return e.encodedLength();
    });
  }

  stopRecording(ids: Ids, recordingId: number | null, channel: string): Buffer {
    return this.encode('StopRecordingRequest', () => {
      const e = this.stopRecordingRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .recordingId(recordingId ?? NULL_ID);
      e.channel(channel);
      return e.encodedLength();
    });
  }

  replay(
    ids: Ids,
    p: { recordingId: number; position: number | null; length: number | null; speed: number; follow: boolean; destination: string },
  ): Buffer {
    return this.encode('ReplayRequest', () => {
      const e = this.replayRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .recordingId(p.recordingId)
        .position(p.position ?? NULL_ID)
        .length(p.length ?? NULL_ID)
        .speed(p.speed)
        .follow(p.follow ? BooleanType.TRUE : BooleanType.FALSE);
      e.destination(p.destination);
      return e.encodedLength();
    });
  }

  timeReplay(
    ids: Ids,
    p: { fromUtcNs: bigint | null; toUtcNs: bigint | null; speed: number; follow: boolean; channels: { channel: string; destination: string }[] },
  ): Buffer {
    return this.encode('TimeReplayRequest', () => {
      const e = this.timeReplayRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .fromUtcNs(p.fromUtcNs ?? NULL_TIME)
        .toUtcNs(p.toUtcNs ?? NULL_TIME)
        .speed(p.speed)
        .follow(p.follow ? BooleanType.TRUE : BooleanType.FALSE);
      const g = e.channelsCount(p.channels.length);
      for (const c of p.channels) {
        const entry = g.next();
        entry.channel(c.channel);
        entry.destination(c.destination);
      }
      return e.encodedLength();
    });
  }

  stopReplay(ids: Ids, replaySessionId: number): Buffer {
    return this.encode('StopReplayRequest', () => {
      const e = this.stopReplayRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).replaySessionId(replaySessionId);
      return e.encodedLength();
    });
  }

  streamReplay(
    ids: Ids,
    p: {
      recordingId: number | null;
      position: number | null;
      length: number | null;
      fromUtcNs: bigint | null;
      toUtcNs: bigint | null;
      follow: boolean;
      channels: string[];
    },
  ): Buffer {
    return this.encode('StreamReplayRequest', () => {
      const e = this.streamReplayRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .recordingId(p.recordingId ?? NULL_ID)
        .position(p.position ?? NULL_ID)
        .length(p.length ?? NULL_ID)
        .fromUtcNs(p.fromUtcNs ?? NULL_TIME)
        .toUtcNs(p.toUtcNs ?? NULL_TIME)
        .follow(p.follow ? BooleanType.TRUE : BooleanType.FALSE);
      const g = e.channelsCount(p.channels.length);
      for (const c of p.channels) g.next().channel(c);
      return e.encodedLength();
    });
  }

  read(ids: Ids, p: { recordingId: number; position: number; fragmentOffset: number; maxBytes: number; toUtcNs: bigint | null }): Buffer {
    return this.encode('ReadRequest', () => {
      const e = this.readRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .recordingId(p.recordingId)
        .position(p.position)
        .fragmentOffset(p.fragmentOffset)
        .maxBytes(p.maxBytes)
        .toUtcNs(p.toUtcNs ?? NULL_TIME);
      return e.encodedLength();
    });
  }

  listRecordings(
    ids: Ids,
    p: { fromRecordingId: number; maxCount: number; states: RecordingStateName[]; fromUtcNs: bigint | null; toUtcNs: bigint | null; channel: string },
  ): Buffer {
    return this.encode('ListRecordingsRequest', () => {
      const e = this.listRecordingsRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId)
        .correlationId(ids.correlationId)
        .fromRecordingId(p.fromRecordingId)
        .maxCount(p.maxCount);
      const s = e.states().clear();
      for (const st of p.states) {
        if (st === 'recording') s.recording(true);
        else if (st === 'stopped') s.stopped(true);
        else if (st === 'failed') s.failed(true);
        else if (st === 'invalid') s.invalid(true);
        else if (st === 'deleted') s.deleted(true);
      }
      e.fromUtcNs(p.fromUtcNs ?? NULL_TIME).toUtcNs(p.toUtcNs ?? NULL_TIME);
      e.channel(p.channel);
      return e.encodedLength();
    });
  }

  describeRecording(ids: Ids, recordingId: number): Buffer {
    return this.encode('DescribeRecordingRequest', () => {
      const e = this.describeRecordingRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).recordingId(recordingId);
      return e.encodedLength();
    });
  }

  recordingPosition(ids: Ids, recordingId: number): Buffer {
    return this.encode('RecordingPositionRequest', () => {
      const e = this.recordingPositionRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).recordingId(recordingId);
      return e.encodedLength();
    });
  }

  findPosition(ids: Ids, recordingId: number, utcNs: bigint): Buffer {
    return this.encode('FindPositionRequest', () => {
      const e = this.findPositionRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).recordingId(recordingId).utcNs(utcNs);
      return e.encodedLength();
    });
  }

  listChannels(ids: Ids): Buffer {
    return this.encode('ListChannelsRequest', () => {
      const e = this.listChannelsRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  stats(ids: Ids): Buffer {
    return this.encode('StatsRequest', () => {
      const e = this.statsRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  archiveRun(ids: Ids, dryRun: boolean): Buffer {
    return this.encode('ArchiveRunRequest', () => {
      const e = this.archiveRunRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).dryRun(dryRun ? BooleanType.TRUE : BooleanType.FALSE);
      return e.encodedLength();
    });
  }

  archiveStatus(ids: Ids): Buffer {
    return this.encode('ArchiveStatusRequest', () => {
      const e = this.archiveStatusRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  addQuarantine(ids: Ids, fromUtcNs: bigint, toUtcNs: bigint, channel: string): Buffer {
    return this.encode('AddQuarantineRequest', () => {
      const e = this.addQuarantineRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).fromUtcNs(fromUtcNs).toUtcNs(toUtcNs);
      e.channel(channel);
      return e.encodedLength();
    });
  }

  removeQuarantine(ids: Ids, quarantineId: number): Buffer {
    return this.encode('RemoveQuarantineRequest', () => {
      const e = this.removeQuarantineRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).quarantineId(quarantineId);
      return e.encodedLength();
    });
  }

  listQuarantines(ids: Ids): Buffer {
    return this.encode('ListQuarantinesRequest', () => {
      const e = this.listQuarantinesRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  deleteEvents(ids: Ids, fromUtcNs: bigint, toUtcNs: bigint, channel: string): Buffer {
    return this.encode('DeleteRequest', () => {
      const e = this.deleteRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).fromUtcNs(fromUtcNs).toUtcNs(toUtcNs);
      e.channel(channel);
      return e.encodedLength();
    });
  }

  clusterStatus(ids: Ids): Buffer {
    return this.encode('ClusterStatusRequest', () => {
      const e = this.clusterStatusRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      return e.encodedLength();
    });
  }

  retention(ids: Ids, dryRun: boolean): Buffer {
    if (dryRun) {
      return this.encode('RetentionDryRunRequest', () =>
        this.retentionDryRunRequest.wrapAndApplyHeader(this.buffer, 0, this.header).controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).encodedLength(),
      );
    }
    return this.encode('RetentionRunRequest', () =>
      this.retentionRunRequest.wrapAndApplyHeader(this.buffer, 0, this.header).controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).encodedLength(),
    );
  }

  subscribeNotifications(ids: Ids, mask: number): Buffer {
    return this.encode('SubscribeNotificationsRequest', () => {
      const e = this.subscribeNotificationsRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId);
      e.mask()
        .clear()
        .recording((mask & NotificationKind.recording) !== 0)
        .progress((mask & NotificationKind.progress) !== 0)
        .replay((mask & NotificationKind.replay) !== 0)
        .cluster((mask & NotificationKind.cluster) !== 0)
        .errors((mask & NotificationKind.errors) !== 0)
        .retention((mask & NotificationKind.retention) !== 0);
      return e.encodedLength();
    });
  }

  eventRates(ids: Ids, fromUtcNs: bigint, toUtcNs: bigint, bucketCount: number, channel: string): Buffer {
    return this.encode('EventRatesRequest', () => {
      const e = this.eventRatesRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).fromUtcNs(fromUtcNs).toUtcNs(toUtcNs).bucketCount(bucketCount);
      e.channel(channel);
      return e.encodedLength();
    });
  }

  deletePreview(ids: Ids, fromUtcNs: bigint, toUtcNs: bigint, channel: string): Buffer {
    return this.encode('DeletePreviewRequest', () => {
      const e = this.deletePreviewRequest.wrapAndApplyHeader(this.buffer, 0, this.header);
      e.controlSessionId(ids.controlSessionId).correlationId(ids.correlationId).fromUtcNs(fromUtcNs).toUtcNs(toUtcNs);
      e.channel(channel);
      return e.encodedLength();
    });
  }

  /** Runs one encoder over the scratch buffer and returns a copy of the datagram. */
  private encode(what: string, body: () => number): Buffer {
    let length: number;
    try {
      length = HEADER_LENGTH + body();
    } catch (err) {
      if (err instanceof RangeError) {
        throw new VcrError(ErrorCode.REQUEST_TOO_LARGE, `${what} does not fit in one datagram (${MAX_MESSAGE} bytes at most)`, { cause: err });
      }
      throw err;
    }
    if (length > MAX_MESSAGE) {
      throw new VcrError(ErrorCode.REQUEST_TOO_LARGE, `${what} is ${length} bytes; at most ${MAX_MESSAGE} fit in one datagram`);
    }
    return Buffer.from(this.buffer.subarray(0, length));
  }
}
