/**
 * Outbound encoding of control responses and data messages (templates 100-199). Each method
 * returns a freshly allocated datagram: the bytes are both sent (asynchronously) and kept in
 * the session's answer cache, so they must not share a scratch buffer.
 */
import {
  ArchiveStatusEncoder,
  BooleanType,
  ChannelDescriptorEncoder,
  ClusterStatusEncoder,
  ControlResponseCode,
  ControlResponseEncoder,
  DeletePreviewEncoder,
  EventRatesEncoder,
  MessageHeaderEncoder,
  QuarantineDescriptorEncoder,
  ReadChunkEncoder,
  ReadChunkEventsEncoder,
  RecordingDescriptorEncoder,
  RecordingState,
  RetentionEntryEncoder,
  RetentionEntryKind,
  RetentionLimit,
  StatsSnapshotCountersEncoder,
  StatsSnapshotEncoder,
  StreamGrantEncoder,
} from '../../codecs/generated/control/index.js';
import type { ErrorCode as WireErrorCode } from '../../codecs/generated/control/index.js';
import { CONTROL_HEADER_LENGTH as HEADER_LENGTH, MAX_ERROR_TEXT, MAX_MESSAGE, NULL_ID, NULL_TIME } from '../protocol/constants.js';
import type { ArchiveStatusView } from './archive-scheduler.js';
import type { ClusterStatusInfo, QuarantineInfo, RecordingInfo, RecordingStateName } from './ports.js';
import type { DeletePreviewResult } from './delete-preview.js';
import type { ChannelRates } from './event-rates.js';
import type { RetentionEntry } from './retention-session.js';

export interface ChunkEvent {
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  eventLength: number;
  fragmentOffset: number;
  /** frame flags (bit 0 UNTERMINATED) */
  flags: number;
  payload: Uint8Array;
}

/**
 * What request handlers encode their answers with: the SBE proxy below for the control
 * protocol, or another encoding of the same answers (the HTTP console's JSON, src/archiver/http).
 */
export type ResponseEncoder = { [K in keyof ControlResponseProxy]: ControlResponseProxy[K] };

/** Bytes a ReadChunk takes before its events, and per event before the payload. */
export const READ_CHUNK_OVERHEAD = HEADER_LENGTH + ReadChunkEncoder.BLOCK_LENGTH + ReadChunkEventsEncoder.HEADER_SIZE;
export const READ_EVENT_OVERHEAD = ReadChunkEventsEncoder.BLOCK_LENGTH + ReadChunkEventsEncoder.payloadHeaderLength();

const STATE_CODES: Record<RecordingStateName, RecordingState> = {
  recording: RecordingState.RECORDING,
  stopped: RecordingState.STOPPED,
  failed: RecordingState.FAILED,
  invalid: RecordingState.INVALID,
  deleted: RecordingState.DELETED,
};

function clip(text: string): string {
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT - 3)}...` : text;
}

export class ControlResponseProxy {
  private readonly scratch = Buffer.alloc(65536);
  private readonly header = new MessageHeaderEncoder();
  private readonly response = new ControlResponseEncoder();
  private readonly descriptor = new RecordingDescriptorEncoder();
  private readonly chunk = new ReadChunkEncoder();
  private readonly channel = new ChannelDescriptorEncoder();
  private readonly stats = new StatsSnapshotEncoder();
  private readonly quarantine = new QuarantineDescriptorEncoder();
  private readonly retention = new RetentionEntryEncoder();
  private readonly cluster = new ClusterStatusEncoder();
  private readonly grant = new StreamGrantEncoder();
  private readonly rates = new EventRatesEncoder();
  private readonly preview = new DeletePreviewEncoder();
  private readonly archiveStatusEnc = new ArchiveStatusEncoder();

  private copyOut(bodyLength: number): Buffer {
    const len = HEADER_LENGTH + bodyLength;
    const out = Buffer.allocUnsafe(len);
    this.scratch.copy(out, 0, 0, len);
    return out;
  }

  ok(sessionId: number, correlationId: bigint, relevantId: number, dataCount = 0): Buffer {
    return this.controlResponse(sessionId, correlationId, relevantId, true, 0, dataCount, '');
  }

  error(sessionId: number, correlationId: bigint, errorCode: number, message: string, dataCount = 0): Buffer {
    return this.controlResponse(sessionId, correlationId, 0, false, errorCode, dataCount, message);
  }

  private controlResponse(
    sessionId: number,
    correlationId: bigint,
    relevantId: number,
    ok: boolean,
    errorCode: number,
    dataCount: number,
    message: string,
  ): Buffer {
    const e = this.response
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .relevantId(relevantId)
      .code(ok ? ControlResponseCode.OK : ControlResponseCode.ERROR)
      .errorCode(errorCode as WireErrorCode)
      .dataCount(dataCount);
    e.errorMessage(clip(message));
    return this.copyOut(e.encodedLength());
  }

  recordingDescriptor(sessionId: number, correlationId: bigint, r: RecordingInfo): Buffer {
    const e = this.descriptor
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .recordingId(r.recordingId)
      .state(STATE_CODES[r.state])
      .startPosition(r.startPosition)
      .stopPosition(r.stopPosition)
      .startUtcNs(r.startUtcNs)
      .stopUtcNs(r.stopUtcNs)
      .startMonoNs(r.startMonoNs)
      .stopMonoNs(r.stopMonoNs)
      .eventCount(r.eventCount)
      .segmentLength(r.segmentLength);
    const g = e.aliasesCount(r.aliases.length);
    for (const a of r.aliases) g.next().alias(a);
    e.channel(r.channel);
    e.source(r.source);
    return this.copyOut(e.encodedLength());
  }

  /** The archive tiers and the current or last pass (`vcr archive status|run`). */
  archiveStatus(sessionId: number, correlationId: bigint, v: ArchiveStatusView): Buffer {
    const p = v.pass;
    const r = p?.result;
    const yes = (b: boolean | undefined): BooleanType => (b ? BooleanType.TRUE : BooleanType.FALSE);
    const e = this.archiveStatusEnc
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .configured(yes(v.configured))
      .passId(p?.passId ?? 0)
      .running(yes(p?.running))
      .dryRun(yes(p?.dryRun))
      .segmentsTotal(p?.segmentsTotal ?? 0)
      .segmentsArchived(r?.segmentsArchived ?? 0)
      .segmentsFailed(r?.failures.length ?? 0)
      .bytesIn(r?.bytesIn ?? 0)
      .bytesOut(r?.bytesOut ?? 0)
      .blocks(p?.blocks ?? 0);
    const tiers = e.tiersCount(v.tiers.length);
    for (const t of v.tiers) {
      tiers.next().segments(t.segments).bytes(t.bytes).oldestUtcNs(t.oldestUtcNs ?? NULL_TIME).newestUtcNs(t.newestUtcNs ?? NULL_TIME).tier(t.tier);
    }
    const listed = r?.dryRun ? r.candidates.slice(0, 500) : [];
    const cands = e.candidatesCount(listed.length);
    for (const c of listed) cands.next().recordingId(c.recordingId).base(c.base).bytes(c.bytes).channel(c.channel);
    e.location(v.location);
    const f = r?.failures[r.failures.length - 1];
    e.lastError(f ? clip(`recording ${f.recordingId}, segment ${f.base}: ${f.message}`) : '');
    return this.copyOut(e.encodedLength());
  }

  /** Where a StreamReplayRequest's stream is fetched (docs/PROTOCOL.md "Streamed replay"). */
  streamGrant(sessionId: number, correlationId: bigint, g: { replaySessionId: number; token: bigint; endpoint: string }): Buffer {
    const e = this.grant
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .replaySessionId(g.replaySessionId)
      .token(g.token);
    e.endpoint(g.endpoint);
    return this.copyOut(e.encodedLength());
  }

  channelDescriptor(
    sessionId: number,
    correlationId: bigint,
    c: { channel: string; aliases: string[]; source: string; activeRecordingId: number | null; recordingCount: number },
  ): Buffer {
    const e = this.channel
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .activeRecordingId(c.activeRecordingId ?? NULL_ID)
      .recordingCount(c.recordingCount);
    const g = e.aliasesCount(c.aliases.length);
    for (const a of c.aliases) g.next().alias(a);
    e.channel(c.channel);
    e.source(c.source);
    return this.copyOut(e.encodedLength());
  }

  /** One or more StatsSnapshot datagrams (split so each stays under MAX_MESSAGE). */
  statsSnapshots(sessionId: number, correlationId: bigint, utcNs: bigint, counters: [string, number][]): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    do {
      let bytes = HEADER_LENGTH + StatsSnapshotEncoder.BLOCK_LENGTH + StatsSnapshotCountersEncoder.HEADER_SIZE;
      let n = 0;
      while (i + n < counters.length && n < 65535) {
        const entry = StatsSnapshotCountersEncoder.BLOCK_LENGTH + StatsSnapshotCountersEncoder.nameHeaderLength() + Buffer.byteLength(counters[i + n]![0]);
        if (bytes + entry > MAX_MESSAGE) break;
        bytes += entry;
        n++;
      }
      const e = this.stats
        .wrapAndApplyHeader(this.scratch, 0, this.header)
        .controlSessionId(sessionId)
        .correlationId(correlationId)
        .utcNs(utcNs);
      const g = e.countersCount(n);
      for (let k = 0; k < n; k++) {
        const [name, value] = counters[i + k]!;
        g.next().value(value).name(name);
      }
      out.push(this.copyOut(e.encodedLength()));
      i += n;
    } while (i < counters.length);
    return out;
  }

  /** One interval of a retention pass; the entry's half-open interval goes out closed, like every interval on the wire. */
  retentionEntry(sessionId: number, correlationId: bigint, runId: number, r: RetentionEntry): Buffer {
    const e = this.retention
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .runId(runId)
      .kind(r.kind === 'delete' ? RetentionEntryKind.DELETE : RetentionEntryKind.HELD)
      .limit(r.limit === 'maxAge' ? RetentionLimit.MAX_AGE : RetentionLimit.MAX_BYTES)
      .cutUtcNs(r.cutUtcNs)
      .fromUtcNs(r.fromUtcNs)
      .toUtcNs(r.toUtcNs - 1n)
      .events(r.events)
      .bytes(r.bytes)
      .holdId(r.holdId ?? NULL_ID);
    e.channel(r.channel);
    return this.copyOut(e.encodedLength());
  }

  quarantineDescriptor(sessionId: number, correlationId: bigint, q: QuarantineInfo): Buffer {
    const e = this.quarantine
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .quarantineId(q.quarantineId)
      .fromUtcNs(q.fromUtcNs)
      .toUtcNs(q.toUtcNs);
    e.channel(q.channel);
    return this.copyOut(e.encodedLength());
  }

  clusterStatus(
    sessionId: number,
    correlationId: bigint,
    s: ClusterStatusInfo,
  ): Buffer {
    const e = this.cluster
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .k(s.k)
      .underReplicatedSegments(s.underReplicatedSegments)
      .repairing(s.repairing ? BooleanType.TRUE : BooleanType.FALSE)
      .bytesToRepair(s.bytesToRepair);
    const g = e.nodesCount(s.nodes.length);
    for (const n of s.nodes) {
      g.next()
        .up(n.up ? BooleanType.TRUE : BooleanType.FALSE)
        .segments(n.segments)
        .bytes(n.bytes)
        .ready(n.ready ? BooleanType.TRUE : BooleanType.FALSE)
        .lagBytes(Math.round(n.lagBytes))
        .lagMs(Math.round(n.lagMs))
        .nodeId(n.id);
    }
    return this.copyOut(e.encodedLength());
  }

  readChunk(
    sessionId: number,
    correlationId: bigint,
    recordingId: number,
    nextPosition: number,
    nextFragmentOffset: number,
    endOfRecording: boolean,
    events: ChunkEvent[],
  ): Buffer {
    const e = this.chunk
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .recordingId(recordingId)
      .nextPosition(nextPosition)
      .nextFragmentOffset(nextFragmentOffset)
      .endOfRecording(endOfRecording ? BooleanType.TRUE : BooleanType.FALSE);
    const g = e.eventsCount(events.length);
    for (const ev of events) {
      g.next()
        .position(ev.position)
        .utcNs(ev.utcNs)
        .monoNs(ev.monoNs)
        .eventLength(ev.eventLength)
        .fragmentOffset(ev.fragmentOffset)
        .flags(ev.flags)
        .payload(ev.payload);
    }
    return this.copyOut(e.encodedLength());
  }

  /** One channel's EventRates (at most MAX_RATE_BUCKETS buckets: ~33 KB). */
  eventRates(sessionId: number, correlationId: bigint, fromUtcNs: bigint, toUtcNs: bigint, c: ChannelRates): Buffer {
    const e = this.rates.wrapAndApplyHeader(this.scratch, 0, this.header).controlSessionId(sessionId).correlationId(correlationId).fromUtcNs(fromUtcNs).toUtcNs(toUtcNs);
    const g = e.bucketsCount(c.bytes.length);
    for (let i = 0; i < c.bytes.length; i++) g.next().bytes(c.bytes[i]!).events(c.events[i]!);
    e.channel(c.channel);
    return this.copyOut(e.encodedLength());
  }

  deletePreview(sessionId: number, correlationId: bigint, p: DeletePreviewResult): Buffer {
    const e = this.preview
      .wrapAndApplyHeader(this.scratch, 0, this.header)
      .controlSessionId(sessionId)
      .correlationId(correlationId)
      .events(p.events)
      .bytes(p.bytes)
      .exact(p.exact ? BooleanType.TRUE : BooleanType.FALSE)
      .protectedBytes(p.protectedBytes);
    const rg = e.recordingsCount(p.recordings.length);
    for (const r of p.recordings) rg.next().recordingId(r.recordingId).events(r.events).bytes(r.bytes).channel(r.channel);
    const hg = e.holdsCount(p.holds.length);
    for (const h of p.holds) hg.next().quarantineId(h.quarantineId).fromUtcNs(h.fromUtcNs).toUtcNs(h.toUtcNs).protectedBytes(h.protectedBytes).channel(h.channel);
    return this.copyOut(e.encodedLength());
  }
}
