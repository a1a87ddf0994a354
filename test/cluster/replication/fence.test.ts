/**
 * Fence queries (docs/REPLICATION.md §7) between in-process nodes over real loopback sockets:
 * a participant answers only once its view shows the recording fencing at the queried
 * revision, then reports, per open segment it holds (a .part, or the recorder's own segment),
 * the end of its last good frame, its frames, the digest of [base, end) as storage computes
 * it, the UTC range and whether it reached the roll to the next segment; from then on it takes
 * no more mirror frames of the recording. The coordinator's decision over those reports stops
 * the recording where the longest prefix ends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decideFence } from '../../../src/cluster/repair-coordinator.js';
import { ErrorCode } from '../../../src/util/errors.js';
import { removeTempDirs } from '../../helpers/wait.js';
import { SEG, TestCluster, record, track } from './support.js';

let cluster: TestCluster | undefined;
afterEach(() => {
  cluster?.close();
  cluster = undefined;
  removeTempDirs();
});

const R = 9;

/** a records into two segments mirrored to b and c; both segments still open in the view (no seal reached etcd). */
async function twoOpenSegments() {
  cluster = await TestCluster.start(['a', 'b', 'c']);
  const c = cluster;
  const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
  const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
  c.putRecording(a, R);
  c.putSegment({ recordingId: R, base: 0, placement: ['b', 'c'] });
  c.putSegment({ recordingId: R, base: SEG, placement: ['b', 'c'] });
  c.publish();
  record(a, w, 0, 500);
  await c.run('streams to start', () => [b, t].every((n) => n.agent.parts.get(R, 0)?.next === a.archive.openSegmentInfo(R)!.position));
  record(a, w, 500, 3000);
  const live = a.archive.openSegmentInfo(R)!;
  expect(live.base).toBe(SEG);
  await c.run('b and c to hold everything', () => [b, t].every((n) => n.agent.parts.get(R, SEG)?.next === live.position && n.agent.parts.get(R, 0)?.complete));
  return { c, a, b, t, w, live };
}

describe('fence participants', () => {
  it('answer once their view shows the fence, with the ends, digests and completeness of what they hold', async () => {
    const { c, a, b, t, w, live } = await twoOpenSegments();
    const V = c.putRecording(a, R, { state: 'fencing' });
    c.publish([a, t]); // b's view has not seen the fence yet

    const fromB = track(t.agent.queries.query('b', R, V));
    const fromA = track(t.agent.queries.query('a', R, V));
    await c.run('a (the recorder) to answer', () => fromA.done);
    await c.settle(50);
    expect(fromB.done).toBe(false); // waits for its view
    expect(b.agent.fenceServer.waiting).toBe(1);

    c.publish([b]);
    await c.run('b to answer', () => fromB.done);
    expect(fromB.error).toBeUndefined();
    const seg0 = a.sealed[0]!;
    const prefix1 = a.archive.segmentPrefix(R, SEG);
    expect(prefix1.end).toBe(live.position);
    for (const report of [fromB.value!, fromA.value!]) {
      expect(report.segments).toEqual([
        { base: 0, end: seg0.end, frames: seg0.frames, digest: seg0.digest, firstUtcNs: seg0.firstUtcNs, lastUtcNs: seg0.lastUtcNs, complete: true },
        { base: SEG, end: live.position, frames: prefix1.frames, digest: prefix1.digest, firstUtcNs: prefix1.firstUtcNs, lastUtcNs: prefix1.lastUtcNs, complete: false },
      ]);
    }
    expect(fromB.value!.node).toBe('b');

    // the coordinator's decision: stop where the longest contiguous prefix ends
    const open = c.nodes[0]!.view.segmentsOf(R).map((s) => s.value);
    const decision = decideFence(0, SEG, open, [fromA.value!, fromB.value!]);
    expect(decision.stopPosition).toBe(live.position);
    expect(decision.seals.map((s) => [s.base, s.end, s.digest])).toEqual([
      [0, seg0.end, seg0.digest],
      [SEG, live.position, prefix1.digest],
    ]);

    // a fenced recording gets no more frames on b, even from its recorder
    record(a, w, 3000, 3200);
    await c.settle(100);
    expect(b.agent.parts.get(R, SEG)!.next).toBe(live.position);
  });

  it('report a shorter prefix when a copy is behind, and nothing for segments they do not hold', async () => {
    const { c, a, b, t, w } = await twoOpenSegments();
    b.running = false; // b falls behind
    record(a, w, 3000, 3300);
    const now = a.archive.openSegmentInfo(R)!.position;
    await c.run('c to keep up', () => t.agent.parts.get(R, SEG)?.next === now);
    const bEnd = b.agent.parts.get(R, SEG)!.next;
    expect(bEnd).toBeLessThan(now);
    b.running = true;
    const V = c.putRecording(a, R, { state: 'fencing' });
    c.publish();
    const fromB = track(t.agent.queries.query('b', R, V));
    const fromC = track(b.agent.queries.query('c', R, V));
    await c.run('both to answer', () => fromB.done && fromC.done);
    const segB = fromB.value!.segments.find((s) => s.base === SEG)!;
    const segC = fromC.value!.segments.find((s) => s.base === SEG)!;
    expect(segB.end).toBeLessThanOrEqual(now);
    expect(segC.end).toBe(now);
    expect(segC.frames).toBeGreaterThan(segB.frames);
    // a node that holds nothing of R reports no segment
    const d = await TestCluster.start(['x', 'y']);
    try {
      d.keys.put('r/0000000000000009', c.keys.get('r/0000000000000009')!.value);
      d.publish();
      expect(d.node('y').agent.fenceServer.report(R)).toEqual([]);
    } finally {
      d.close();
    }
  });

  it('the asking side times out, or is refused when the recording is being recorded again', async () => {
    const { c, a, t } = await twoOpenSegments();
    const V = c.putRecording(a, R, { state: 'fencing' });
    c.publish([t]);
    const never = track(t.agent.queries.query('b', R, V + 1000)); // b's view will not reach that revision
    await c.settle(20);
    t.clockOffsetMs += 11_000; // past the fence timeout (10 s): no waiting in the test
    await c.run('the query to time out', () => never.done);
    expect((never.error as { code: number }).code).toBe(ErrorCode.TIMEOUT);

    c.putRecording(a, R, { owner: { node: 'a', lease: 'a-lease-2' } }); // taken over by a new incarnation
    c.publish();
    const refused = track(t.agent.queries.query('b', R, V));
    await c.run('the query to be refused', () => refused.done);
    expect((refused.error as { code: number }).code).toBe(ErrorCode.REPLICA_UNAVAILABLE);

    // a query in flight when the connection drops is rejected at once
    const V2 = c.putRecording(a, R, { state: 'fencing' });
    c.publish([t]);
    const lost = track(t.agent.queries.query('b', R, V2));
    await c.settle(20);
    c.node('b').stop();
    c.node('b').running = false;
    await c.run('the query to be rejected', () => lost.done);
    expect((lost.error as { code: number }).code).toBe(ErrorCode.REPLICA_UNAVAILABLE);
  });
});
