/**
 * Inbound side of the control protocol: decodes one datagram from the archiver (a final
 * ControlResponse, a data message, or a notification) into a plain object and hands it to
 * the listener. Anything that does not decode (foreign schema, truncated, unknown
 * template) is reported through `onMalformed` and otherwise ignored: a stray datagram must
 * never break the client.
 */
// one file per codec rather than index.js: the CLI starts faster loading only what it uses
import { ArchivePassEndedDecoder } from '../../codecs/generated/control/ArchivePassEndedDecoder.js';
import { ArchiveStatusDecoder } from '../../codecs/generated/control/ArchiveStatusDecoder.js';
import { ChannelDescriptorDecoder } from '../../codecs/generated/control/ChannelDescriptorDecoder.js';
import { ClusterStatusDecoder } from '../../codecs/generated/control/ClusterStatusDecoder.js';
import { ControlResponseDecoder } from '../../codecs/generated/control/ControlResponseDecoder.js';
import { DeletePreviewDecoder } from '../../codecs/generated/control/DeletePreviewDecoder.js';
import { EventRatesDecoder } from '../../codecs/generated/control/EventRatesDecoder.js';
import { ErrorNotificationDecoder } from '../../codecs/generated/control/ErrorNotificationDecoder.js';
import { MessageHeaderDecoder } from '../../codecs/generated/control/MessageHeaderDecoder.js';
import { NodeStatusChangedDecoder } from '../../codecs/generated/control/NodeStatusChangedDecoder.js';
import { QuarantineDescriptorDecoder } from '../../codecs/generated/control/QuarantineDescriptorDecoder.js';
import { ReadChunkDecoder } from '../../codecs/generated/control/ReadChunkDecoder.js';
import { RecordingDescriptorDecoder } from '../../codecs/generated/control/RecordingDescriptorDecoder.js';
import { RecordingProgressDecoder } from '../../codecs/generated/control/RecordingProgressDecoder.js';
import { RecordingStartedDecoder } from '../../codecs/generated/control/RecordingStartedDecoder.js';
import { RecordingStoppedDecoder } from '../../codecs/generated/control/RecordingStoppedDecoder.js';
import { RepairProgressDecoder } from '../../codecs/generated/control/RepairProgressDecoder.js';
import { ReplayEndedDecoder } from '../../codecs/generated/control/ReplayEndedDecoder.js';
import { ReplayStartedDecoder } from '../../codecs/generated/control/ReplayStartedDecoder.js';
import { RetentionEntryDecoder } from '../../codecs/generated/control/RetentionEntryDecoder.js';
import { RetentionRunEndedDecoder } from '../../codecs/generated/control/RetentionRunEndedDecoder.js';
import { StatsSnapshotDecoder } from '../../codecs/generated/control/StatsSnapshotDecoder.js';
import { StreamGrantDecoder } from '../../codecs/generated/control/StreamGrantDecoder.js';
import { CONTROL_HEADER_LENGTH as HEADER_LENGTH, CONTROL_SCHEMA_ID, NULL_ID, NULL_TIME } from '../protocol/constants.js';
import type { ControlResponse } from './pending-requests.js';
import { stopReasonName, type Notification } from './notifications.js';
import type {
  ArchiveStatus,
  ChannelDescriptor,
  ChannelRates,
  DeletePreview,
  ChunkEvent,
  ClusterStatus,
  QuarantineDescriptor,
  ReadChunk,
  RecordingDescriptor,
  RecordingStateName,
  RetentionEntry,
  StatsSnapshot,
  StreamGrant,
} from './types.js';


export type DataMessage =
  | { kind: 'recordingDescriptor'; value: RecordingDescriptor }
  | { kind: 'readChunk'; value: ReadChunk }
  | { kind: 'channelDescriptor'; value: ChannelDescriptor }
  | { kind: 'stats'; value: StatsSnapshot }
  | { kind: 'quarantine'; value: QuarantineDescriptor }
  | { kind: 'clusterStatus'; value: ClusterStatus }
  | { kind: 'streamGrant'; value: StreamGrant }
  | { kind: 'eventRates'; value: ChannelRates }
  | { kind: 'deletePreview'; value: DeletePreview }
  | { kind: 'retentionEntry'; value: RetentionEntry }
  | { kind: 'archiveStatus'; value: ArchiveStatus };

export interface ControlResponseListener {
  onControlResponse(r: ControlResponse): void;
  /** `key` identifies the item within its request's answer (for duplicate suppression) */
  onData(correlationId: bigint, key: string, msg: DataMessage): void;
  onNotification(n: Notification): void;
  onMalformed(reason: string): void;
}

const STATES: Record<number, RecordingStateName> = { 1: 'recording', 2: 'stopped', 3: 'failed', 4: 'invalid', 5: 'deleted' };

export function recordingStateName(raw: number): RecordingStateName {
  return STATES[raw] ?? 'unknown';
}

function idOrNull(v: number): number | null {
  return v === NULL_ID ? null : v;
}

function timeOrNull(v: bigint): bigint | null {
  return v === NULL_TIME ? null : v;
}

export class ControlResponseAdapter {
  private readonly header = new MessageHeaderDecoder();
  private readonly controlResponse = new ControlResponseDecoder();
  private readonly recordingDescriptor = new RecordingDescriptorDecoder();
  private readonly readChunk = new ReadChunkDecoder();
  private readonly channelDescriptor = new ChannelDescriptorDecoder();
  private readonly statsSnapshot = new StatsSnapshotDecoder();
  private readonly quarantineDescriptor = new QuarantineDescriptorDecoder();
  private readonly eventRates = new EventRatesDecoder();
  private readonly deletePreview = new DeletePreviewDecoder();
  private readonly clusterStatus = new ClusterStatusDecoder();
  private readonly streamGrant = new StreamGrantDecoder();
  private readonly recordingStarted = new RecordingStartedDecoder();
  private readonly recordingProgress = new RecordingProgressDecoder();
  private readonly recordingStopped = new RecordingStoppedDecoder();
  private readonly replayStarted = new ReplayStartedDecoder();
  private readonly replayEnded = new ReplayEndedDecoder();
  private readonly nodeStatusChanged = new NodeStatusChangedDecoder();
  private readonly repairProgress = new RepairProgressDecoder();
  private readonly errorNotification = new ErrorNotificationDecoder();
  private readonly retentionEntry = new RetentionEntryDecoder();
  private readonly retentionRunEnded = new RetentionRunEndedDecoder();
  private readonly archiveStatusDec = new ArchiveStatusDecoder();
  private readonly archivePassEnded = new ArchivePassEndedDecoder();

  constructor(private readonly listener: ControlResponseListener) {}

  /** Decodes and dispatches one datagram; returns 1 if it was understood, else 0. */
  onDatagram(buf: Buffer): number {
    if (buf.length < HEADER_LENGTH) {
      this.listener.onMalformed(`datagram of ${buf.length} bytes is shorter than a message header`);
      return 0;
    }
    try {
      return this.dispatch(buf);
    } catch (err) {
      this.listener.onMalformed(`undecodable message: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    }
  }

  private dispatch(buf: Buffer): number {
    const h = this.header.wrap(buf, 0);
    const schemaId = h.schemaId();
    if (schemaId !== CONTROL_SCHEMA_ID) {
      this.listener.onMalformed(`schema id ${schemaId} is not the control schema (${CONTROL_SCHEMA_ID})`);
      return 0;
    }
    const templateId = h.templateId();
    const blockLength = h.blockLength();
    const version = h.version();
    if (HEADER_LENGTH + blockLength > buf.length) {
      this.listener.onMalformed(`template ${templateId}: body shorter than its block length ${blockLength}`);
      return 0;
    }
    const l = this.listener;
    switch (templateId) {
      case ControlResponseDecoder.TEMPLATE_ID: {
        const d = this.controlResponse.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onControlResponse({
          controlSessionId: d.controlSessionId(),
          correlationId: d.correlationId(),
          relevantId: d.relevantId(),
          ok: d.code() === 0,
          errorCode: Number(d.errorCode()),
          dataCount: d.dataCount(),
          errorMessage: d.errorMessage() ?? '',
        });
        return 1;
      }
      case RecordingDescriptorDecoder.TEMPLATE_ID: {
        const d = this.recordingDescriptor.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const recordingId = d.recordingId();
        const state = recordingStateName(Number(d.state()));
        const startPosition = d.startPosition();
        const stopPosition = d.stopPosition();
        const startUtcNs = d.startUtcNs();
        const stopUtcNs = d.stopUtcNs();
        const startMonoNs = d.startMonoNs();
        const stopMonoNs = d.stopMonoNs();
        const eventCount = d.eventCount();
        const segmentLength = d.segmentLength();
        const aliases: string[] = [];
        for (const a of d.aliases()) aliases.push(a.alias() ?? '');
        const channel = d.channel() ?? '';
        const source = d.source() ?? '';
        l.onData(correlationId, `r${recordingId}`, {
          kind: 'recordingDescriptor',
          value: {
            recordingId, state, startPosition, stopPosition, startUtcNs, stopUtcNs, startMonoNs, stopMonoNs,
            eventCount, segmentLength, aliases, channel, source,
          },
        });
        return 1;
      }
      case ReadChunkDecoder.TEMPLATE_ID: {
        const d = this.readChunk.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const recordingId = d.recordingId();
        const nextPosition = d.nextPosition();
        const nextFragmentOffset = d.nextFragmentOffset();
        const endOfRecording = Number(d.endOfRecording()) === 1;
        const events: ChunkEvent[] = [];
        for (const e of d.events()) {
          const position = e.position();
          const utcNs = e.utcNs();
          const monoNs = e.monoNs();
          const eventLength = e.eventLength();
          const fragmentOffset = e.fragmentOffset();
          const flags = e.flags();
          // payload() checks the length against the datagram before anything is allocated
          const payload = Buffer.from(e.payload());
          events.push({ position, utcNs, monoNs, eventLength, fragmentOffset, flags, payload });
        }
        l.onData(correlationId, 'chunk', { kind: 'readChunk', value: { recordingId, nextPosition, nextFragmentOffset, endOfRecording, events } });
        return 1;
      }
      case ChannelDescriptorDecoder.TEMPLATE_ID: {
        const d = this.channelDescriptor.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const activeRecordingId = idOrNull(d.activeRecordingId());
        const recordingCount = d.recordingCount();
        const aliases: string[] = [];
        for (const a of d.aliases()) aliases.push(a.alias() ?? '');
        const channel = d.channel() ?? '';
        const source = d.source() ?? '';
        l.onData(correlationId, `c${channel}`, { kind: 'channelDescriptor', value: { channel, source, aliases, activeRecordingId, recordingCount } });
        return 1;
      }
      case StatsSnapshotDecoder.TEMPLATE_ID: {
        const d = this.statsSnapshot.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const utcNs = d.utcNs();
        const counters = new Map<string, number>();
        let first = '';
        for (const c of d.counters()) {
          const value = c.value();
          const name = c.name() ?? '';
          if (counters.size === 0) first = name;
          counters.set(name, value);
        }
        // a large snapshot comes in several messages: each is told apart by its first counter
        l.onData(correlationId, `s${utcNs}:${first}`, { kind: 'stats', value: { utcNs, counters } });
        return 1;
      }
      case QuarantineDescriptorDecoder.TEMPLATE_ID: {
        const d = this.quarantineDescriptor.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const quarantineId = d.quarantineId();
        const fromUtcNs = d.fromUtcNs();
        const toUtcNs = d.toUtcNs();
        const channel = d.channel() ?? '';
        l.onData(correlationId, `q${quarantineId}`, { kind: 'quarantine', value: { quarantineId, fromUtcNs, toUtcNs, channel } });
        return 1;
      }
      case ClusterStatusDecoder.TEMPLATE_ID: {
        const d = this.clusterStatus.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const k = d.k();
        const underReplicatedSegments = d.underReplicatedSegments();
        const repairing = Number(d.repairing()) === 1;
        const bytesToRepair = d.bytesToRepair();
        const nodes: ClusterStatus['nodes'] = [];
        for (const n of d.nodes()) {
          const up = Number(n.up()) === 1;
          const segments = n.segments();
          const bytes = n.bytes();
          const ready = Number(n.ready()) === 1;
          nodes.push({ id: n.nodeId() ?? '', up, ready, segments, bytes, lagBytes: n.lagBytes(), lagMs: n.lagMs() });
        }
        l.onData(correlationId, 'cluster', { kind: 'clusterStatus', value: { k, underReplicatedSegments, repairing, bytesToRepair, nodes } });
        return 1;
      }
      case StreamGrantDecoder.TEMPLATE_ID: {
        const d = this.streamGrant.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const replaySessionId = Number(d.replaySessionId());
        const token = d.token();
        const endpoint = d.endpoint() ?? '';
        l.onData(correlationId, 'grant', { kind: 'streamGrant', value: { replaySessionId, token, endpoint } });
        return 1;
      }
      case EventRatesDecoder.TEMPLATE_ID: {
        const d = this.eventRates.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const fromUtcNs = d.fromUtcNs();
        const toUtcNs = d.toUtcNs();
        const bytes: number[] = [];
        const events: number[] = [];
        for (const b of d.buckets()) {
          bytes.push(b.bytes());
          events.push(b.events());
        }
        const channel = d.channel() ?? '';
        l.onData(correlationId, `rates:${channel}`, { kind: 'eventRates', value: { channel, fromUtcNs, toUtcNs, bytes, events } });
        return 1;
      }
      case DeletePreviewDecoder.TEMPLATE_ID: {
        const d = this.deletePreview.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const value: DeletePreview = { events: d.events(), bytes: d.bytes(), exact: Number(d.exact()) === 1, protectedBytes: d.protectedBytes(), recordings: [], holds: [] };
        for (const r of d.recordings()) {
          const recordingId = r.recordingId();
          const events = r.events();
          const bytes = r.bytes();
          value.recordings.push({ recordingId, events, bytes, channel: r.channel() ?? '' });
        }
        for (const h of d.holds()) {
          const quarantineId = h.quarantineId();
          const fromUtcNs = h.fromUtcNs();
          const toUtcNs = h.toUtcNs();
          const protectedBytes = h.protectedBytes();
          value.holds.push({ quarantineId, fromUtcNs, toUtcNs, protectedBytes, channel: h.channel() ?? '' });
        }
        l.onData(correlationId, 'preview', { kind: 'deletePreview', value });
        return 1;
      }
      case RetentionEntryDecoder.TEMPLATE_ID: {
        const d = this.retentionEntry.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const value: RetentionEntry = {
          runId: d.runId(),
          kind: Number(d.kind()) === 1 ? 'held' : 'delete',
          limit: Number(d.limit()) === 2 ? 'maxBytes' : 'maxAge',
          cutUtcNs: d.cutUtcNs(),
          fromUtcNs: d.fromUtcNs(),
          toUtcNs: d.toUtcNs(),
          events: d.events(),
          bytes: d.bytes(),
          holdId: idOrNull(d.holdId()),
          channel: d.channel() ?? '',
        };
        l.onData(correlationId, `r${value.channel}:${value.kind}:${value.fromUtcNs}:${value.holdId}`, { kind: 'retentionEntry', value });
        return 1;
      }
      default:
        return this.dispatchNotification(buf, templateId, blockLength, version);
    }
  }

  private dispatchNotification(buf: Buffer, templateId: number, blockLength: number, version: number): number {
    const l = this.listener;
    switch (templateId) {
      case RecordingStartedDecoder.TEMPLATE_ID: {
        const d = this.recordingStarted.wrap(buf, HEADER_LENGTH, blockLength, version);
        const recordingId = d.recordingId();
        const startPosition = d.startPosition();
        const startUtcNs = d.startUtcNs();
        const channel = d.channel() ?? '';
        const source = d.source() ?? '';
        l.onNotification({ type: 'recordingStarted', recordingId, startPosition, startUtcNs, channel, source });
        return 1;
      }
      case RecordingProgressDecoder.TEMPLATE_ID: {
        const d = this.recordingProgress.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onNotification({
          type: 'recordingProgress',
          recordingId: d.recordingId(),
          position: d.position(),
          eventCount: d.eventCount(),
          lastUtcNs: d.lastUtcNs(),
          kernelDrops: d.kernelDrops(),
          droppedEvents: d.droppedEvents(),
        });
        return 1;
      }
      case RecordingStoppedDecoder.TEMPLATE_ID: {
        const d = this.recordingStopped.wrap(buf, HEADER_LENGTH, blockLength, version);
        const recordingId = d.recordingId();
        const stopPosition = d.stopPosition();
        const stopUtcNs = d.stopUtcNs();
        const eventCount = d.eventCount();
        const reason = stopReasonName(Number(d.reason()));
        const errorCode = Number(d.errorCode());
        const message = d.message() ?? '';
        l.onNotification({ type: 'recordingStopped', recordingId, stopPosition, stopUtcNs, eventCount, reason, errorCode, message });
        return 1;
      }
      case ReplayStartedDecoder.TEMPLATE_ID: {
        const d = this.replayStarted.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onNotification({
          type: 'replayStarted',
          replaySessionId: d.replaySessionId(),
          recordingCount: d.recordingCount(),
          fromUtcNs: timeOrNull(d.fromUtcNs()),
          toUtcNs: timeOrNull(d.toUtcNs()),
          speed: d.speed(),
        });
        return 1;
      }
      case ReplayEndedDecoder.TEMPLATE_ID: {
        const d = this.replayEnded.wrap(buf, HEADER_LENGTH, blockLength, version);
        const replaySessionId = d.replaySessionId();
        const eventsSent = d.eventsSent();
        const bytesSent = d.bytesSent();
        const reason = stopReasonName(Number(d.reason()));
        const errorCode = Number(d.errorCode());
        const message = d.message() ?? '';
        l.onNotification({ type: 'replayEnded', replaySessionId, eventsSent, bytesSent, reason, errorCode, message });
        return 1;
      }
      case NodeStatusChangedDecoder.TEMPLATE_ID: {
        const d = this.nodeStatusChanged.wrap(buf, HEADER_LENGTH, blockLength, version);
        const up = Number(d.up()) === 1;
        const utcNs = d.utcNs();
        l.onNotification({ type: 'nodeStatusChanged', up, utcNs, nodeId: d.nodeId() ?? '' });
        return 1;
      }
      case RepairProgressDecoder.TEMPLATE_ID: {
        const d = this.repairProgress.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onNotification({
          type: 'repairProgress',
          segmentsRepaired: d.segmentsRepaired(),
          segmentsRemaining: d.segmentsRemaining(),
          bytesCopied: d.bytesCopied(),
          done: Number(d.done()) === 1,
        });
        return 1;
      }
      case RetentionRunEndedDecoder.TEMPLATE_ID: {
        const d = this.retentionRunEnded.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onNotification({
          type: 'retentionRunEnded',
          runId: d.runId(),
          startUtcNs: d.startUtcNs(),
          endUtcNs: d.endUtcNs(),
          channels: d.channels(),
          eventsDeleted: d.eventsDeleted(),
          bytesDeleted: d.bytesDeleted(),
          errors: d.errors(),
          requested: Number(d.requested()) === 1,
        });
        return 1;
      }
      case ArchiveStatusDecoder.TEMPLATE_ID: {
        const d = this.archiveStatusDec.wrap(buf, HEADER_LENGTH, blockLength, version);
        const correlationId = d.correlationId();
        const head = {
          configured: Number(d.configured()) === 1,
          passId: d.passId(),
          running: Number(d.running()) === 1,
          dryRun: Number(d.dryRun()) === 1,
          segmentsTotal: d.segmentsTotal(),
          segmentsArchived: d.segmentsArchived(),
          segmentsFailed: d.segmentsFailed(),
          bytesIn: d.bytesIn(),
          bytesOut: d.bytesOut(),
          blocks: d.blocks(),
        };
        const tiers: ArchiveStatus['tiers'] = [];
        for (const t of d.tiers()) {
          const oldest = t.oldestUtcNs();
          const newest = t.newestUtcNs();
          const segments = t.segments();
          const bytes = t.bytes();
          tiers.push({ segments, bytes, oldestUtcNs: oldest === NULL_TIME ? null : oldest, newestUtcNs: newest === NULL_TIME ? null : newest, tier: t.tier() ?? '' });
        }
        const candidates: ArchiveStatus['candidates'] = [];
        for (const c of d.candidates()) {
          const recordingId = c.recordingId();
          const base = c.base();
          const bytes = c.bytes();
          candidates.push({ recordingId, base, bytes, channel: c.channel() ?? '' });
        }
        const location = d.location() ?? '';
        const lastError = d.lastError() ?? '';
        l.onData(correlationId, 'archiveStatus', { kind: 'archiveStatus', value: { ...head, tiers, candidates, location, lastError } });
        return 1;
      }
      case ArchivePassEndedDecoder.TEMPLATE_ID: {
        const d = this.archivePassEnded.wrap(buf, HEADER_LENGTH, blockLength, version);
        l.onNotification({
          type: 'archivePassEnded',
          passId: d.passId(),
          dryRun: Number(d.dryRun()) === 1,
          segmentsArchived: d.segmentsArchived(),
          segmentsFailed: d.segmentsFailed(),
          bytesIn: d.bytesIn(),
          bytesOut: d.bytesOut(),
          utcNs: d.utcNs(),
        });
        return 1;
      }
      case ErrorNotificationDecoder.TEMPLATE_ID: {
        const d = this.errorNotification.wrap(buf, HEADER_LENGTH, blockLength, version);
        const errorCode = Number(d.errorCode());
        const relevantId = d.relevantId();
        const utcNs = d.utcNs();
        l.onNotification({ type: 'error', errorCode, relevantId, utcNs, message: d.message() ?? '' });
        return 1;
      }
      default:
        this.listener.onMalformed(`unknown template id ${templateId}`);
        return 0;
    }
  }
}
