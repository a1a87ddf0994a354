/**
 * Notifications the archiver pushes to subscribed sessions (PROTOCOL.md "Notifications"),
 * as plain objects, and the fan-out to the handlers a client registered. Best effort: the
 * archiver never re-sends a lost notification, so handlers must not count on seeing all.
 */

/** Bits of the NotificationMask set (codecs/control.xml), shared with the archiver. */
export { ALL_NOTIFICATIONS, NotificationKind } from '../protocol/constants.js';

export type StopReasonName = 'requested' | 'sourceEnded' | 'error' | 'shutdown' | 'clientGone' | 'unknown';

export type Notification =
  | { type: 'recordingStarted'; recordingId: number; startPosition: number; startUtcNs: bigint; channel: string; source: string }
  | {
      type: 'recordingProgress';
      recordingId: number;
      position: number;
      eventCount: number;
      lastUtcNs: bigint;
      kernelDrops: number;
      droppedEvents: number;
    }
  | {
      type: 'recordingStopped';
      recordingId: number;
      stopPosition: number;
      stopUtcNs: bigint;
      eventCount: number;
      reason: StopReasonName;
      errorCode: number;
      message: string;
    }
  | { type: 'replayStarted'; replaySessionId: number; recordingCount: number; fromUtcNs: bigint | null; toUtcNs: bigint | null; speed: number }
  | {
      type: 'replayEnded';
      replaySessionId: number;
      eventsSent: number;
      bytesSent: number;
      reason: StopReasonName;
      errorCode: number;
      message: string;
    }
  | { type: 'nodeStatusChanged'; up: boolean; utcNs: bigint; nodeId: string }
  | { type: 'repairProgress'; segmentsRepaired: number; segmentsRemaining: number; bytesCopied: number; done: boolean }
  | { type: 'error'; errorCode: number; relevantId: number; utcNs: bigint; message: string }
  | {
      type: 'retentionRunEnded';
      runId: number;
      startUtcNs: bigint;
      endUtcNs: bigint;
      channels: number;
      eventsDeleted: number;
      bytesDeleted: number;
      errors: number;
      requested: boolean;
    }
  | {
      type: 'archivePassEnded';
      passId: number;
      dryRun: boolean;
      segmentsArchived: number;
      segmentsFailed: number;
      bytesIn: number;
      bytesOut: number;
      utcNs: bigint;
    };

export type NotificationHandler = (n: Notification) => void;

const STOP_REASONS: StopReasonName[] = ['requested', 'sourceEnded', 'error', 'shutdown', 'clientGone'];

export function stopReasonName(raw: number): StopReasonName {
  return STOP_REASONS[raw] ?? 'unknown';
}

/** Handlers registered on one client; a throwing handler does not stop the others. */
export class NotificationDispatcher {
  private readonly handlers = new Set<NotificationHandler>();

  get size(): number {
    return this.handlers.size;
  }

  add(h: NotificationHandler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  clear(): void {
    this.handlers.clear();
  }

  dispatch(n: Notification): number {
    let delivered = 0;
    for (const h of this.handlers) {
      try {
        h(n);
        delivered++;
      } catch {
        // one broken handler must not starve the others
      }
    }
    return delivered;
  }
}
