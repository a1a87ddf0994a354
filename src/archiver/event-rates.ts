/**
 * Event rates per channel over a time range, from the time index alone (no event is read): a
 * recording's position grows with its UTC time, and the index samples that curve every stride
 * of bytes, so the frame bytes written between two times are the difference of the curve's
 * values there, interpolated linearly between samples (exact to within a stride per bucket
 * edge). Events are estimated from bytes with the recording's own events per byte. Cost: one
 * binary search per bucket edge and recording, whatever the recording's length.
 */
import { extentOf, matchesChannel, overlaps, resolveChannel } from './catalog-queries.js';
import type { RecordingInfo, TimeIndexView } from './ports.js';

export interface ChannelRates {
  channel: string;
  bytes: number[];
  events: number[];
}

/** Position of the recording at time t (its growth curve through the index samples). */
export function positionAt(r: RecordingInfo, end: bigint, endPosition: number, index: TimeIndexView | undefined, t: bigint): number {
  if (t <= r.startUtcNs) return r.startPosition;
  if (t >= end) return endPosition;
  // samples: (start), index entries..., (end); find the last sample at or before t
  let loUtc = r.startUtcNs;
  let loPos = r.startPosition;
  let hiUtc = end;
  let hiPos = endPosition;
  const n = index?.length ?? 0;
  if (index && n > 0) {
    let lo = 0;
    let hi = n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (index.utcAt(mid) <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found >= 0 && index.positionAt(found) >= loPos) {
      loUtc = index.utcAt(found);
      loPos = index.positionAt(found);
    }
    if (found + 1 < n && index.positionAt(found + 1) <= endPosition) {
      hiUtc = index.utcAt(found + 1);
      hiPos = index.positionAt(found + 1);
    }
  }
  if (hiUtc <= loUtc) return loPos;
  return loPos + Math.round(((hiPos - loPos) * Number(t - loUtc)) / Number(hiUtc - loUtc));
}

export function eventRates(
  all: RecordingInfo[],
  q: { channel: string; fromUtcNs: bigint; toUtcNs: bigint; buckets: number },
  nowUtcNs: bigint,
  livePosition: (r: RecordingInfo) => number,
  index: (recordingId: number) => TimeIndexView | undefined,
): ChannelRates[] {
  const span = q.toUtcNs - q.fromUtcNs;
  const edges: bigint[] = [];
  for (let i = 0; i <= q.buckets; i++) edges.push(q.fromUtcNs + (span * BigInt(i)) / BigInt(q.buckets));
  const primary = q.channel === '' ? undefined : (resolveChannel(all, q.channel) ?? q.channel);
  const byChannel = new Map<string, ChannelRates>();
  for (const r of all) {
    if (r.state === 'deleted' || r.state === 'invalid') continue;
    if (primary !== undefined && r.channel !== primary && !matchesChannel(r, q.channel)) continue;
    if (!overlaps(r, q.fromUtcNs, q.toUtcNs, nowUtcNs)) continue;
    let rates = byChannel.get(r.channel);
    if (!rates) {
      rates = { channel: r.channel, bytes: new Array<number>(q.buckets).fill(0), events: new Array<number>(q.buckets).fill(0) };
      byChannel.set(r.channel, rates);
    }
    const [, end] = extentOf(r, nowUtcNs);
    const endPosition = livePosition(r);
    const idx = index(r.recordingId);
    const total = endPosition - r.startPosition;
    const eventsPerByte = total > 0 ? r.eventCount / total : 0;
    let prev = positionAt(r, end, endPosition, idx, edges[0]!);
    for (let i = 0; i < q.buckets; i++) {
      const next = positionAt(r, end, endPosition, idx, edges[i + 1]!);
      const bytes = Math.max(0, next - prev);
      rates.bytes[i]! += bytes;
      rates.events[i]! += Math.round(bytes * eventsPerByte);
      prev = next;
    }
  }
  return [...byChannel.values()];
}
