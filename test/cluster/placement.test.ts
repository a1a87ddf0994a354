import { describe, expect, it } from 'vitest';
import { place, rendezvousOrder, repairPlacement, shareBound } from '../../src/cluster/placement.js';

describe('rendezvous placement (docs/REPLICATION.md §4)', () => {
  it('keeps each node of N=4, K=2 within the stated share bound of K/N over 256 segments, and no node holds everything', () => {
    const nodes = ['a', 'b', 'c', 'd'];
    const count = new Map(nodes.map((n) => [n, 0]));
    const segments = 256;
    const segmentLength = 1 << 20;
    let s = 0;
    for (let rec = 0; rec < 8; rec++) {
      for (let i = 0; i < segments / 8; i++, s++) {
        const p = place(nodes, 2, rec, i * segmentLength);
        expect(new Set(p).size).toBe(2);
        for (const n of p) count.set(n, count.get(n)! + 1);
      }
    }
    const { low, high } = shareBound(4, 2, segments);
    for (const n of nodes) {
      const share = count.get(n)! / segments;
      expect(share).toBeGreaterThanOrEqual(low);
      expect(share).toBeLessThanOrEqual(high);
      expect(share).toBeLessThan(1);
    }
  });

  it('moves only the segments of a removed node, each to the next node in its order', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    for (let base = 0; base < 100; base++) {
      const before = place(nodes, 2, 7, base);
      const after = repairPlacement(before, (n) => n !== 'c', nodes.filter((n) => n !== 'c'), 2, 7, base);
      if (!before.includes('c')) expect(after).toEqual(before);
      else {
        expect(after).not.toContain('c');
        expect(after).toContain(before.find((n) => n !== 'c'));
        expect(after).toEqual(expect.arrayContaining([rendezvousOrder(nodes.filter((n) => n !== 'c'), 7, base).find((n) => !before.includes(n))]));
      }
    }
  });
});
