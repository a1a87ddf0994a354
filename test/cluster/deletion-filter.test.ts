/**
 * What committed deletions hide from a recording's reads (src/cluster/deletion-filter.ts): the
 * recordings a deletion named at commit, its interval minus its holds that name the recording;
 * the same recordings every node applies it to (namedRecordings).
 */
import { describe, expect, it } from 'vitest';
import type { ClusterDeletion } from '../../src/cluster/cluster-keys.js';
import { hiddenIntervals, isHidden, namedRecordings } from '../../src/cluster/deletion-filter.js';

const del = (over: Partial<ClusterDeletion>): ClusterDeletion => ({ deletionId: 1, channel: 'c', fromUtcNs: 10n, toUtcNs: 50n, recordings: [1], holds: [], ...over });

describe('deletion filter', () => {
  it('hides the interval minus the holds naming the recording, in the recordings named at commit only', () => {
    const ds = [
      del({ holds: [{ channel: 'c', fromUtcNs: 20n, toUtcNs: 30n }, { channel: 'other', fromUtcNs: 40n, toUtcNs: 45n }] }),
      del({ deletionId: 2, fromUtcNs: 45n, toUtcNs: 70n, recordings: [1, 2] }),
    ];
    expect(hiddenIntervals(ds, 1, ['c'])).toEqual([
      [10n, 20n],
      [30n, 70n],
    ]);
    expect(hiddenIntervals(ds, 2, ['c'])).toEqual([[45n, 70n]]);
    expect(hiddenIntervals(ds, 3, ['c'])).toEqual([]); // same channel, not named: a recording made after the commit
    const iv = hiddenIntervals(ds, 1, ['c']);
    expect([9n, 10n, 19n, 20n, 29n, 30n, 69n, 70n].map((t) => isHidden(iv, t))).toEqual([false, true, true, false, false, true, true, false]);
  });

  it('a record without a list of recordings names none: it hides nothing and is applied to nothing', () => {
    const bad = { ...del({}), recordings: undefined } as unknown as ClusterDeletion;
    expect(hiddenIntervals([bad], 1, ['c'])).toEqual([]);
    expect(namedRecordings(bad)).toEqual([]);
    expect(namedRecordings(del({ recordings: [3, -1, 1.5, 4] }))).toEqual([3, 4]);
  });
});
