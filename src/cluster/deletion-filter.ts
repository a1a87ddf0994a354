/**
 * What committed deletions hide from a recording's reads (docs/REPLICATION.md §8): every
 * deletion that names the recording removes the events in its interval minus the holds it
 * carries. Reads filter them whether or not the frames were rewritten on the node serving
 * them yet (open segments never are), so a read started after a delete was acknowledged never
 * serves a deleted event.
 *
 * The hidden set of one recording is a sorted list of disjoint half-open UTC intervals, built
 * once per change of the deletion set; checking an event is a binary search, and a recording
 * no deletion names costs one length check.
 */
import { subtractHolds } from '../storage/deleter.js';
import type { ClusterDeletion } from './cluster-keys.js';

export type Interval = [bigint, bigint];

/**
 * The recordings a committed deletion covers: the ones it named at commit. Reads filter these
 * and every node applies it to these (storage records them with the deletion), so what a node
 * deletes, however late, is what reads hide. A record without the list names none.
 */
export function namedRecordings(d: Pick<ClusterDeletion, 'recordings'>): number[] {
  return Array.isArray(d.recordings) ? d.recordings.filter((id) => Number.isSafeInteger(id) && id >= 0) : [];
}

/** Sorted, merged intervals hidden in `recordingId` whose names are `names` (channel and aliases). */
export function hiddenIntervals(deletions: Iterable<ClusterDeletion>, recordingId: number, names: readonly string[]): Interval[] {
  const all: Interval[] = [];
  for (const d of deletions) {
    if (!namedRecordings(d).includes(recordingId)) continue;
    const holds = d.holds.filter((h) => h.channel === undefined || names.includes(h.channel));
    all.push(...subtractHolds(d.fromUtcNs, d.toUtcNs, holds)); // the storage's own subtraction: reads hide what a node deletes
  }
  all.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const merged: Interval[] = [];
  for (const iv of all) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) {
      if (iv[1] > last[1]) last[1] = iv[1];
    } else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

/** True when utcNs lies in one of the sorted disjoint intervals. */
export function isHidden(intervals: readonly Interval[], utcNs: bigint): boolean {
  let lo = 0;
  let hi = intervals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = intervals[mid]!;
    if (utcNs < a) hi = mid - 1;
    else if (utcNs >= b) lo = mid + 1;
    else return true;
  }
  return false;
}
