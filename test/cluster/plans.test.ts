import { describe, expect, it } from 'vitest';
import { KEY, encodeValue, type ClusterRecording, type ClusterSegment } from '../../src/cluster/cluster-keys.js';
import { ClusterView } from '../../src/cluster/cluster-view.js';
import type { KeyValue } from '../../src/cluster/etcd-store.js';
import { clusterHealth } from '../../src/cluster/health.js';
import { planFences, planPlacementChanges } from '../../src/cluster/repair-plan.js';
import { decideFence } from '../../src/cluster/repair-coordinator.js';
import { planReplicaActions, type LocalSegment } from '../../src/cluster/replica-plan.js';

let rev = 1;
function kv(key: string, value: object | string, lease = '0'): KeyValue {
  rev++;
  return { key, value: typeof value === 'string' ? value : encodeValue(value), createRevision: rev, modRevision: rev, version: 1, lease };
}

function member(node: string, ready = true, lease = `${node}-lease`, disk = `${node}-disk`): KeyValue {
  return kv(KEY.member(node), { node, disk, lease, pid: 1, control: '', replication: '', ready, startedAtMs: 0 }, lease);
}

function recording(id: number, owner: string, state: ClusterRecording['state'] = 'recording', lease = `${owner}-lease`): KeyValue {
  const r: ClusterRecording = {
    recordingId: id, channel: 'c', aliases: [], source: 'udp://127.0.0.1:1', segmentLength: 1024, state, owner: { node: owner, lease },
    startPosition: 0, stopPosition: 4096, startUtcNs: 1n, stopUtcNs: 2n, startMonoNs: 1n, stopMonoNs: 2n, eventCount: 10,
  };
  return kv(KEY.recording(id), r);
}

function segment(id: number, base: number, placement: string[], replicas: string[], state: ClusterSegment['state'] = 'sealed'): KeyValue {
  const s: ClusterSegment = { recordingId: id, base, state, placement, replicas: replicas.map((r) => (r.includes('@') ? { node: r.split('@')[0]!, disk: r.split('@')[1]! } : { node: r, disk: `${r}-disk` })), end: base + 1000, frames: 3, digest: 'd', firstUtcNs: 1n, lastUtcNs: 2n };
  return kv(KEY.segment(id, base), s);
}

function view(kvs: KeyValue[]): ClusterView {
  const v = new ClusterView();
  v.load(kvs, rev);
  return v;
}


describe('coordinator plan', () => {
  const downKeys = (...nodes: string[]) => nodes.map((n) => kv(KEY.down(n), { sinceMs: 0 }));
  const graceKeys = (...nodes: string[]) => nodes.map((n) => kv(KEY.grace(n), '1'));

  it('replaces a node down past grace in the placement, fewest live copies first, preferring nodes with a copy', () => {
    const segs = [member('a'), member('b'), member('d'), recording(0, 'a', 'stopped'), segment(0, 0, ['a', 'c'], ['a', 'c']), segment(0, 1024, ['b', 'c'], ['c'])];
    expect(planPlacementChanges(view([...segs, ...downKeys('c'), ...graceKeys('c')]), 2)).toEqual([]);
    const changes = planPlacementChanges(view([...segs, ...downKeys('c')]), 2);
    expect(changes.map((c) => [c.base, c.liveCopies, c.replaced])).toEqual([
      [1024, 0, ['c']],
      [0, 1, ['c']],
    ]);
    for (const c of changes) {
      expect(c.placement).toHaveLength(2);
      expect(c.placement).not.toContain('c');
    }
    expect(changes.find((c) => c.base === 0)!.placement).toContain('a');
    // a node that missed the verify deadline is replaced too
    const late = planPlacementChanges(view([member('a'), member('b'), member('d'), segment(0, 0, ['a', 'b'], ['a'])]), 2, (n) => n === 'b');
    expect(late.map((c) => c.replaced)).toEqual([['b']]);
  });

  it('fences a live recording whose owner incarnation is over (down past grace, or up with a new lease), not before', () => {
    const kvs = [member('b'), recording(0, 'a'), recording(1, 'b'), segment(0, 0, ['b', 'c'], [], 'open')];
    expect(planFences(view([...kvs, ...downKeys('a'), ...graceKeys('a')]))).toEqual([]);
    const f = planFences(view([...kvs, ...downKeys('a')]));
    expect(f.map((x) => x.recording.value.recordingId)).toEqual([0]);
    expect(f[0]!.openSegments.map((s) => s.value.base)).toEqual([0]);
    expect(planFences(view([member('a', true, 'new'), recording(0, 'a', 'recording', 'old')])).map((x) => x.recording.value.recordingId)).toEqual([0]);
    expect(planFences(view([member('a'), recording(0, 'a', 'fencing')])).map((x) => x.recording.value.recordingId)).toEqual([0]);
  });

  it('leaves a continuation with no segment record to its owner (only it holds its frames), whatever became of the owner; fences one that has segments', () => {
    const cont = (id: number): KeyValue => {
      const base: ClusterRecording = {
        recordingId: id, channel: 'c', aliases: [], source: 'udp://127.0.0.1:1', segmentLength: 1024, state: 'recording', owner: { node: 'a', lease: 'old' },
        startPosition: 0, stopPosition: 0, startUtcNs: 1n, stopUtcNs: 1n, startMonoNs: 1n, stopMonoNs: 1n, eventCount: 0, continues: { recordingId: 0, position: 4096 },
      };
      return kv(KEY.recording(id), base);
    };
    const stopped = recording(0, 'a', 'stopped', 'old');
    expect(planFences(view([member('a', true, 'new'), stopped, cont(1)]))).toEqual([]);
    expect(planFences(view([stopped, cont(1), ...downKeys('a')]))).toEqual([]);
    expect(planFences(view([member('a', true, 'new'), stopped, cont(1), segment(1, 0, ['a', 'b'], [], 'open')])).map((x) => x.recording.value.recordingId)).toEqual([1]);
  });

  it('counts under-replicated segments from the view', () => {
    const v = view([member('a'), member('b'), segment(0, 0, ['a', 'b'], ['a', 'b']), segment(0, 1024, ['a', 'c'], ['a', 'c'])]);
    const h = clusterHealth(v, ['a', 'b', 'c'], 2);
    expect(h.underReplicatedSegments).toBe(1);
    expect(h.repairing).toBe(false);
    expect(h.bytesToRepair).toBe(1000);
    expect(h.nodes.find((n) => n.id === 'a')!.segments).toBe(2);
  });
});

describe('replica plan', () => {
  const local = (entries: Partial<LocalSegment>[]) =>
    new Map(entries.map((e) => [`${e.recordingId}/${e.base}`, { state: 'present', end: (e.base ?? 0) + 1000, verified: true, ...e } as LocalSegment]));

  it('leaves the replica set when the local copy is gone (wiped), then fetches it back if placed here', () => {
    const v = view([member('a'), member('b'), segment(0, 0, ['a', 'b'], ['a', 'b'])]);
    expect(planReplicaActions(v, 'a', 'a-disk', 2, new Map()).map((x) => x.kind)).toEqual(['leave']);
    const v2 = view([member('a'), member('b'), segment(0, 0, ['a', 'b'], ['b'])]);
    const acts = planReplicaActions(v2, 'a', 'a-disk', 2, new Map());
    expect(acts).toEqual([expect.objectContaining({ kind: 'fetch', from: 0, holders: ['b'] })]);
  });

  it('verifies before joining, and drops a surplus copy only when K other placed copies are up', () => {
    const v = view([member('a'), member('b'), member('c'), segment(0, 0, ['b', 'c'], ['a', 'b', 'c'])]);
    expect(planReplicaActions(v, 'a', 'a-disk', 2, local([{ recordingId: 0, base: 0 }]))).toEqual([expect.objectContaining({ kind: 'drop', holders: ['b', 'c'] })]);
    const v2 = view([member('a'), member('b'), segment(0, 0, ['b', 'c'], ['a', 'b', 'c'])]);
    expect(planReplicaActions(v2, 'a', 'a-disk', 2, local([{ recordingId: 0, base: 0 }]))).toEqual([]);
    const v3 = view([member('a'), member('b'), segment(0, 0, ['a', 'b'], ['b'])]);
    expect(planReplicaActions(v3, 'a', 'a-disk', 2, local([{ recordingId: 0, base: 0, verified: false }]))).toEqual([expect.objectContaining({ kind: 'verify', join: true })]);
  });

  it('deletes bytes no record accounts for, verifies complete copies instead, and keeps what is not published yet', () => {
    const v = view([member('a'), recording(0, 'b', 'stopped'), segment(0, 0, ['b', 'c'], ['b', 'c'])]);
    const acts = planReplicaActions(v, 'a', 'a-disk', 2, local([{ recordingId: 0, base: 0, end: 10 }, { recordingId: 0, base: 8192 }, { recordingId: 1, base: 0 }]));
    expect(acts.map((x) => [x.kind, x.base])).toEqual([
      ['delete', 0],
      ['delete', 8192],
    ]);
    const complete = planReplicaActions(v, 'a', 'a-disk', 2, local([{ recordingId: 0, base: 0 }]));
    expect(complete).toEqual([expect.objectContaining({ kind: 'verify', join: true })]);
  });

  it('leaves an entry that names an older disk of this node (a wiped directory is a new disk)', () => {
    const v = view([member('a'), member('b'), segment(0, 0, ['a', 'b'], ['a@old-disk', 'b'])]);
    const acts = planReplicaActions(v, 'a', 'a-disk', 2, new Map());
    expect(acts.map((x) => x.kind)).toEqual(['leave', 'fetch']);
    expect(acts[0]).toMatchObject({ disk: 'old-disk' });
  });
});

describe('fence decision (docs/REPLICATION.md §7)', () => {
  const open = (base: number): ClusterSegment => ({ recordingId: 0, base, state: 'open', placement: ['b', 'c'], replicas: [], end: base, frames: 0, digest: '', firstUtcNs: 0n, lastUtcNs: 0n });
  const rep = (node: string, segs: [number, number, boolean][]) => ({
    node,
    segments: segs.map(([base, end, complete]) => ({ base, end, frames: end > base ? 1 : 0, digest: `${node}-${base}-${end}`, firstUtcNs: 1n, lastUtcNs: 2n, complete })),
  });

  it('stops at the longest contiguous prefix and takes that holder\'s digest', () => {
    const d = decideFence(0, 1024, [open(0)], [rep('b', [[0, 400, false]]), rep('c', [[0, 640, false]])]);
    expect(d.stopPosition).toBe(640);
    expect(d.seals[0]).toMatchObject({ state: 'sealed', end: 640, digest: 'c-0-640' });
  });

  it('continues into the next open segment only when the previous one is complete everywhere it counts', () => {
    const gap = decideFence(0, 1024, [open(0), open(1024)], [rep('b', [[0, 400, false], [1024, 1500, false]])]);
    expect(gap.stopPosition).toBe(400);
    expect(gap.seals.map((s) => [s.base, s.end])).toEqual([
      [0, 400],
      [1024, 1024],
    ]);
    const whole = decideFence(0, 1024, [open(0), open(1024)], [rep('b', [[0, 1000, true], [1024, 1500, false]])]);
    expect(whole.stopPosition).toBe(1500);
  });

  it('stops a recording with no segment record at its start position', () => {
    expect(decideFence(0, 1024, [], []).stopPosition).toBe(0);
  });
});
