/**
 * Decoded control requests as plain objects: the ControlAdapter turns datagrams into these and
 * the conductor acts on them, so the conductor's logic is tested without encoding anything.
 */

export interface RequestBase {
  controlSessionId: number;
  correlationId: bigint;
}

export interface ConnectRequest {
  type: 'connect';
  correlationId: bigint;
  responseStreamVersion: number;
  keepAliveTimeoutMs: number;
  responseChannel: string;
  clientName: string;
}

export type SessionRequest =
  | (RequestBase & { type: 'close' })
  | (RequestBase & { type: 'keepAlive' })
  | (RequestBase & { type: 'startRecording'; channel: string; source: string; aliases: string[] })
  | (RequestBase & { type: 'stopRecording'; recordingId: number | null; channel: string })
  | (RequestBase & {
      type: 'replay';
      recordingId: number;
      position: number | null;
      length: number | null;
      speed: number;
      follow: boolean;
      destination: string;
    })
  | (RequestBase & {
      type: 'timeReplay';
      fromUtcNs: bigint | null;
      toUtcNs: bigint | null;
      speed: number;
      follow: boolean;
      channels: { channel: string; destination: string }[];
    })
  | (RequestBase & { type: 'stopReplay'; replaySessionId: number })
  | (RequestBase & {
      type: 'read';
      recordingId: number;
      position: number;
      fragmentOffset: number;
      maxBytes: number;
      toUtcNs: bigint | null;
    })
  | (RequestBase & {
      type: 'listRecordings';
      fromRecordingId: number;
      maxCount: number;
      states: Set<string>;
      fromUtcNs: bigint | null;
      toUtcNs: bigint | null;
      channel: string;
    })
  | (RequestBase & { type: 'describe'; recordingId: number })
  | (RequestBase & { type: 'position'; recordingId: number })
  | (RequestBase & { type: 'findPosition'; recordingId: number; utcNs: bigint })
  | (RequestBase & { type: 'listChannels' })
  | (RequestBase & { type: 'stats' })
  | (RequestBase & { type: 'archiveRun'; dryRun: boolean })
  | (RequestBase & { type: 'archiveStatus' })
  | (RequestBase & { type: 'addQuarantine'; fromUtcNs: bigint; toUtcNs: bigint; channel: string })
  | (RequestBase & { type: 'removeQuarantine'; quarantineId: number })
  | (RequestBase & { type: 'listQuarantines' })
  | (RequestBase & { type: 'delete'; fromUtcNs: bigint; toUtcNs: bigint; channel: string })
  | (RequestBase & { type: 'clusterStatus' })
  | (RequestBase & {
      type: 'streamReplay';
      recordingId: number | null;
      position: number | null;
      length: number | null;
      fromUtcNs: bigint | null;
      toUtcNs: bigint | null;
      follow: boolean;
      channels: string[];
    })
  | (RequestBase & { type: 'subscribe'; mask: NotificationMaskBits })
  | (RequestBase & { type: 'eventRates'; fromUtcNs: bigint; toUtcNs: bigint; buckets: number; channel: string })
  | (RequestBase & { type: 'deletePreview'; fromUtcNs: bigint; toUtcNs: bigint; channel: string })
  | (RequestBase & { type: 'retentionDryRun' })
  | (RequestBase & { type: 'retentionRun' });

export type ControlRequest = ConnectRequest | SessionRequest;

/** Requests that change nothing and may be executed again when their cached answer is gone. */
export const IDEMPOTENT_REQUESTS = new Set<SessionRequest['type']>([
  'keepAlive',
  'read',
  'listRecordings',
  'describe',
  'position',
  'findPosition',
  'listChannels',
  'stats',
  'archiveStatus',
  'listQuarantines',
  'clusterStatus',
  'subscribe',
  'eventRates',
  'deletePreview',
  'retentionDryRun',
]);

/** A set of NotificationKind bits (src/protocol/constants.ts). */
export type NotificationMaskBits = number;
