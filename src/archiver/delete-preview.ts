/**
 * What a delete of [fromUtcNs, toUtcNs] on a channel (or all) would remove, without removing
 * anything: per recording, the parts of the interval no hold covers, measured as positions
 * (findPosition at each part's ends: the time index, no scan), with their events counted by
 * reading frame headers when the bytes are few (exact) or estimated from the recording's
 * events per byte when they are many. Also which holds protect what (bytes per hold). It goes
 * through the ArchiveStore port only, like the delete itself.
 */
import { matchesChannel, overlaps, resolveChannel } from './catalog-queries.js';
import type { ArchiveStore, QuarantineInfo, RecordingInfo } from './ports.js';

/** Above this many bytes to delete, events are estimated instead of counted. */
const COUNT_LIMIT_BYTES = 16 * 1024 * 1024;
/** Entries listed (the totals always cover everything). */
const MAX_LISTED = 256;

export interface DeletePreviewResult {
  events: number;
  bytes: number;
  exact: boolean;
  protectedBytes: number;
  recordings: { recordingId: number; channel: string; events: number; bytes: number }[];
  holds: { quarantineId: number; channel: string; fromUtcNs: bigint; toUtcNs: bigint; protectedBytes: number }[];
}

type Interval = [bigint, bigint];

/** [from, to] minus the given closed intervals, as closed intervals in order. */
export function subtract(from: bigint, to: bigint, holes: Interval[]): Interval[] {
  const sorted = [...holes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Interval[] = [];
  let cursor = from;
  for (const [a, b] of sorted) {
    if (b < cursor || a > to) continue;
    if (a > cursor) out.push([cursor, a - 1n]);
    if (b + 1n > cursor) cursor = b + 1n;
    if (cursor > to) break;
  }
  if (cursor <= to) out.push([cursor, to]);
  return out;
}

function holdApplies(q: QuarantineInfo, r: RecordingInfo): boolean {
  return q.channel === '' || matchesChannel(r, q.channel);
}

export async function deletePreview(store: ArchiveStore, q: { channel: string; fromUtcNs: bigint; toUtcNs: bigint }, nowUtcNs: bigint): Promise<DeletePreviewResult> {
  const all = store.listRecordings();
  const primary = q.channel === '' ? undefined : (resolveChannel(all, q.channel) ?? q.channel);
  const holds = store.listQuarantines();
  const out: DeletePreviewResult = { events: 0, bytes: 0, exact: true, protectedBytes: 0, recordings: [], holds: [] };
  const protectedBy = new Map<number, number>();
  // bytes of the recording between two times (closed interval)
  const bytesBetween = async (r: RecordingInfo, a: bigint, b: bigint): Promise<[number, number]> => {
    const start = await store.findPosition(r.recordingId, a);
    const end = await store.findPosition(r.recordingId, b + 1n);
    return [start, Math.max(start, end)];
  };
  for (const r of all) {
    if (r.state === 'deleted' || r.state === 'invalid') continue;
    if (primary !== undefined && r.channel !== primary) continue;
    if (!overlaps(r, q.fromUtcNs, q.toUtcNs, nowUtcNs)) continue;
    const applicable = holds.filter((h) => holdApplies(h, r) && h.toUtcNs >= q.fromUtcNs && h.fromUtcNs <= q.toUtcNs);
    let events = 0;
    let bytes = 0;
    for (const [a, b] of subtract(q.fromUtcNs, q.toUtcNs, applicable.map((h) => [h.fromUtcNs, h.toUtcNs]))) {
      const [start, end] = await bytesBetween(r, a, b);
      if (end <= start) continue;
      bytes += end - start;
      events += end - start <= COUNT_LIMIT_BYTES ? countEvents(store, r.recordingId, start, end) : estimate(r, end - start, () => (out.exact = false));
    }
    for (const h of applicable) {
      const [start, end] = await bytesBetween(r, h.fromUtcNs > q.fromUtcNs ? h.fromUtcNs : q.fromUtcNs, h.toUtcNs < q.toUtcNs ? h.toUtcNs : q.toUtcNs);
      if (end > start) protectedBy.set(h.quarantineId, (protectedBy.get(h.quarantineId) ?? 0) + end - start);
    }
    out.events += events;
    out.bytes += bytes;
    if (bytes > 0 && out.recordings.length < MAX_LISTED) out.recordings.push({ recordingId: r.recordingId, channel: r.channel, events, bytes });
  }
  for (const h of holds) {
    const protectedBytes = protectedBy.get(h.quarantineId);
    if (protectedBytes === undefined) continue;
    out.protectedBytes += protectedBytes;
    if (out.holds.length < MAX_LISTED) out.holds.push({ ...h, protectedBytes });
  }
  return out;
}

function estimate(r: RecordingInfo, bytes: number, inexact: () => void): number {
  inexact();
  const total = r.stopPosition - r.startPosition;
  return total > 0 ? Math.round((bytes * r.eventCount) / total) : 0;
}

/** Frames in [start, end) of a recording, by reading them (bounded by COUNT_LIMIT_BYTES). */
function countEvents(store: ArchiveStore, recordingId: number, start: number, end: number): number {
  const reader = store.openReader(recordingId, start, false);
  let n = 0;
  let past = false;
  try {
    while (!past && !reader.isDone()) {
      const got = reader.poll((_b, _o, _l, position) => {
        if (position < end) n++;
        else past = true;
      }, 1024);
      if (got === 0) break;
    }
  } finally {
    reader.close();
  }
  return n;
}
