/**
 * The console's encoding of control answers: the same methods as the SBE ControlResponseProxy,
 * each returning one JSON document (a Buffer, so handlers treat it like a datagram). Handlers
 * stay unaware of HTTP: the console runs a request through them with this encoder and parses
 * what comes back (ConsoleControl). Nanosecond times and 64-bit values become decimal strings,
 * payloads base64, as in the CLI's --json output.
 */
import type { ArchiveStatusView } from '../archive-scheduler.js';
import type { RetentionEntry } from '../retention-session.js';
import type { ChunkEvent, ResponseEncoder } from '../control-response-proxy.js';
import type { ClusterStatusInfo, QuarantineInfo, RecordingInfo } from '../ports.js';
import type { DeletePreviewResult } from '../delete-preview.js';
import type { ChannelRates } from '../event-rates.js';

/** One decoded answer message. */
export type JsonMessage =
  | { kind: 'ok'; relevantId: number; dataCount: number }
  | { kind: 'error'; errorCode: number; message: string }
  | ({ kind: 'recording' } & Record<string, unknown>)
  | { kind: string; [key: string]: unknown };

function json(value: object): Buffer {
  return Buffer.from(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export function recordingJson(r: RecordingInfo): Record<string, unknown> {
  return {
    recordingId: r.recordingId,
    channel: r.channel,
    aliases: r.aliases,
    source: r.source,
    state: r.state,
    startPosition: r.startPosition,
    stopPosition: r.stopPosition,
    startUtcNs: r.startUtcNs.toString(),
    stopUtcNs: r.stopUtcNs.toString(),
    startMonoNs: r.startMonoNs.toString(),
    stopMonoNs: r.stopMonoNs.toString(),
    events: r.eventCount,
    segmentLength: r.segmentLength,
  };
}

export class JsonResponses implements ResponseEncoder {
  ok(_sessionId: number, _correlationId: bigint, relevantId: number, dataCount = 0): Buffer {
    return json({ kind: 'ok', relevantId, dataCount });
  }

  error(_sessionId: number, _correlationId: bigint, errorCode: number, message: string): Buffer {
    return json({ kind: 'error', errorCode, message });
  }

  recordingDescriptor(_sessionId: number, _correlationId: bigint, r: RecordingInfo): Buffer {
    return json({ kind: 'recording', ...recordingJson(r) });
  }

  streamGrant(_sessionId: number, _correlationId: bigint, g: { replaySessionId: number; token: bigint; endpoint: string }): Buffer {
    // never handed out over HTTP (a grant's token is for the control client that asked)
    return json({ kind: 'streamGrant', replaySessionId: g.replaySessionId });
  }

  channelDescriptor(
    _sessionId: number,
    _correlationId: bigint,
    c: { channel: string; aliases: string[]; source: string; activeRecordingId: number | null; recordingCount: number },
  ): Buffer {
    return json({ kind: 'channel', ...c });
  }

  statsSnapshots(_sessionId: number, _correlationId: bigint, utcNs: bigint, counters: [string, number][]): Buffer[] {
    return [json({ kind: 'stats', utcNs, counters: Object.fromEntries(counters) })];
  }

  quarantineDescriptor(_sessionId: number, _correlationId: bigint, q: QuarantineInfo): Buffer {
    return json({ kind: 'hold', quarantineId: q.quarantineId, channel: q.channel, fromUtcNs: q.fromUtcNs, toUtcNs: q.toUtcNs });
  }

  archiveStatus(_sessionId: number, _correlationId: bigint, v: ArchiveStatusView): Buffer {
    return json({ kind: 'archiveStatus', ...v });
  }

  retentionEntry(_sessionId: number, _correlationId: bigint, runId: number, r: RetentionEntry): Buffer {
    return json({ ...r, kind: 'retention', entry: r.kind, runId });
  }

  clusterStatus(_sessionId: number, _correlationId: bigint, s: ClusterStatusInfo): Buffer {
    return json({ kind: 'cluster', ...s });
  }

  readChunk(
    _sessionId: number,
    _correlationId: bigint,
    recordingId: number,
    nextPosition: number,
    nextFragmentOffset: number,
    endOfRecording: boolean,
    events: ChunkEvent[],
  ): Buffer {
    return json({
      kind: 'chunk',
      recordingId,
      nextPosition,
      nextFragmentOffset,
      endOfRecording,
      events: events.map((e) => ({
        position: e.position,
        utcNs: e.utcNs,
        monoNs: e.monoNs,
        eventLength: e.eventLength,
        fragmentOffset: e.fragmentOffset,
        flags: e.flags,
        payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength).toString('base64'),
      })),
    });
  }

  eventRates(_sessionId: number, _correlationId: bigint, _fromUtcNs: bigint, _toUtcNs: bigint, c: ChannelRates): Buffer {
    return json({ kind: 'rates', ...c });
  }

  deletePreview(_sessionId: number, _correlationId: bigint, p: DeletePreviewResult): Buffer {
    return json({ kind: 'deletePreview', ...p });
  }
}
