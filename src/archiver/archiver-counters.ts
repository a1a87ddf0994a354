/**
 * The archiver's counters, by name. One instance is shared by the conductor, the sessions and
 * the adapter; StatsSnapshot (control protocol) and the Prometheus endpoint both read from it,
 * so the two views always agree. Per-channel counters are named `channel.NAME.KEY`.
 */

export const GLOBAL_COUNTERS = [
  'events',
  'bytes',
  'kernelDrops',
  'malformed',
  'oversize',
  'queueDrops',
  'errors',
  'controlMalformed',
  'sourceMalformed',
  'rejected',
  'controlRequests',
  'duplicateRequests',
  'sessionsOpened',
  'sessionsClosed',
  'sessionsTimedOut',
  'sessionsEvicted',
  'activeSessions',
  'activeRecordings',
  'activeReplays',
  'recordingsStarted',
  'recordingsStopped',
  'recordingsFailed',
  'replaysStarted',
  'replaysEnded',
  'replayEvents',
  'replayBytes',
  'readRequests',
  'readBytes',
  'notificationsSent',
  'sendErrors',
  // retention (retention-manager.ts): runs ended, what they deleted, UTC ms of the last one
  'retentionRuns',
  'retentionEventsDeleted',
  'retentionBytesDeleted',
  'retentionLastRunMs',
  // archive tier (archive-scheduler.ts): passes run, segments moved or failed, bytes in and out
  'archivePasses',
  'archiveSegments',
  'archiveFailures',
  'archiveBytesIn',
  'archiveBytesOut',
  // cluster continuations (continuation-maker.ts): made, finished after a crash, stopped empty (frames gone)
  'continuationsMade',
  'continuationsFinished',
  'continuationsEmptied',
] as const;
export type GlobalCounter = (typeof GLOBAL_COUNTERS)[number];

export const CHANNEL_COUNTERS = ['events', 'bytes', 'kernelDrops', 'oversize', 'queueDrops', 'malformed', 'recordings'] as const;
export type ChannelCounter = (typeof CHANNEL_COUNTERS)[number];

export class ArchiverCounters {
  private readonly global = new Map<GlobalCounter, number>(GLOBAL_COUNTERS.map((n) => [n, 0]));
  private readonly channels = new Map<string, Map<ChannelCounter, number>>();

  add(name: GlobalCounter, delta = 1): void {
    this.global.set(name, (this.global.get(name) ?? 0) + delta);
  }

  set(name: GlobalCounter, value: number): void {
    this.global.set(name, value);
  }

  get(name: GlobalCounter): number {
    return this.global.get(name) ?? 0;
  }

  addChannel(channel: string, name: ChannelCounter, delta = 1): void {
    let m = this.channels.get(channel);
    if (!m) {
      m = new Map(CHANNEL_COUNTERS.map((n) => [n, 0]));
      this.channels.set(channel, m);
    }
    m.set(name, (m.get(name) ?? 0) + delta);
  }

  getChannel(channel: string, name: ChannelCounter): number {
    return this.channels.get(channel)?.get(name) ?? 0;
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** All counters as [name, value], globals first. */
  snapshot(): [string, number][] {
    const out: [string, number][] = [...this.global.entries()];
    for (const [ch, m] of this.channels) {
      for (const [k, v] of m) out.push([`channel.${ch}.${k}`, v]);
    }
    return out;
  }
}
