import { describe, expect, it } from 'vitest';
import { ClusterNotifier } from '../../src/archiver/cluster-notifier.js';
import type { ClusterStatusInfo } from '../../src/archiver/ports.js';

function status(under: number, bytes: number, up: Record<string, boolean>): ClusterStatusInfo {
  return {
    k: 2,
    underReplicatedSegments: under,
    repairing: under > 0,
    bytesToRepair: bytes,
    nodes: Object.entries(up).map(([id, u]) => ({ id, up: u, ready: u, segments: 0, bytes: 0, lagBytes: 0, lagMs: 0 })),
  };
}

describe('cluster notifications', () => {
  it('announce a node going down and back once each, and repair progress until done', () => {
    const sent: unknown[] = [];
    const n = new ClusterNotifier({
      nodeStatusChanged: (id, up) => sent.push(['node', id, up]),
      repairProgress: (repaired, remaining, bytes, done) => sent.push(['repair', repaired, remaining, bytes, done]),
    });
    n.onStatus(status(0, 0, { a: true, b: true }), 1n);
    n.onStatus(status(0, 0, { a: true, b: true }), 2n);
    expect(sent).toEqual([]);
    n.onStatus(status(4, 400, { a: true, b: false }), 3n);
    n.onStatus(status(4, 400, { a: true, b: false }), 4n);
    n.onStatus(status(1, 100, { a: true, b: false }), 5n);
    n.onStatus(status(0, 0, { a: true, b: false }), 6n);
    n.onStatus(status(0, 0, { a: true, b: true }), 7n);
    expect(sent).toEqual([
      ['node', 'b', false],
      ['repair', 0, 4, 0, false],
      ['repair', 3, 1, 300, false],
      ['repair', 4, 0, 400, true],
      ['node', 'b', true],
    ]);
  });
});
