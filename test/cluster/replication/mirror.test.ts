/**
 * Mirroring (docs/REPLICATION.md §5.2-5.3) between in-process nodes over real loopback
 * sockets: live frames of the open segment reach every placement target, a sealed segment is
 * installed there with the recorder's digest, a slow target never holds the recorder and
 * catches up from its files, a target restarted mid-segment resumes its `.part`, and a
 * recording the view shows fenced gets no more frames.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../helpers/wait.js';
import { SEG, TestCluster, fingerprint, readAll, record } from './support.js';

let cluster: TestCluster | undefined;
afterEach(() => {
  cluster?.close();
  cluster = undefined;
  removeTempDirs();
});

const R = 5;

describe('mirroring', () => {
  it('streams the open segment live to both targets and installs the sealed segment there with the recorder’s digest', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c']);
    const c = cluster;
    const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
    const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
    c.putRecording(a, R);
    c.putSegment({ recordingId: R, base: 0, placement: ['b', 'c'] });
    c.publish();

    record(a, w, 0, 500);
    const live = a.archive.openSegmentInfo(R)!.position;
    await c.run('both targets to hold the open segment up to the recorder position', () => b.agent.parts.get(R, 0)?.next === live && t.agent.parts.get(R, 0)?.next === live);
    await c.run('acks to reach the recorder', () => a.agent.mirror.lag().length === 2 && a.agent.mirror.lag().every((l) => l.bytes === 0));
    expect(b.events.copied).toEqual([]); // open: nothing is a copy yet

    // roll into the next segment: the recorder seals segment 0, its reconciler writes the record
    record(a, w, 500, 3000);
    expect(a.sealed.map((s) => s.base)).toEqual([0]);
    c.putSealed(a, a.sealed[0]!, ['b', 'c']);
    c.putSegment({ recordingId: R, base: SEG, placement: ['b', 'c'] });
    c.publish();
    await c.run('both targets to install segment 0', () => b.events.copied.length === 1 && t.events.copied.length === 1);
    for (const n of [b, t]) {
      expect(n.events.copied[0]).toMatchObject({ recordingId: R, base: 0, summary: { digest: a.sealed[0]!.digest, end: a.sealed[0]!.end, frames: a.sealed[0]!.frames } });
      expect(n.archive.verifySegment(R, 0).digest).toBe(a.sealed[0]!.digest);
      expect(existsSync(join(n.dir, 'incoming', `${R}-0.part`))).toBe(false);
    }
    // the next segment follows live
    const live2 = a.archive.openSegmentInfo(R)!.position;
    await c.run('the second segment to follow', () => b.agent.parts.get(R, SEG)?.next === live2 && t.agent.parts.get(R, SEG)?.next === live2);

    // stop: the last segment is sealed where the recording ends (no padding) and installed too
    w.stop();
    const last = a.sealed[1]!;
    c.putSealed(a, last, ['b', 'c']);
    c.putRecording(a, R, { state: 'stopped', stopPosition: last.end, stoppedBy: 'a' });
    c.publish();
    await c.run('both targets to install the last segment', () => b.events.copied.length === 2 && t.events.copied.length === 2);
    expect(b.events.copied[1]!.summary.digest).toBe(last.digest);
    const expected = fingerprint(readAll(a.archive, R));
    expect(expected.count).toBe(3000);
    b.ensureDescriptor(R);
    expect(fingerprint(readAll(b.archive, R))).toEqual(expected);
    await c.run('every mirror stream to end', () => a.agent.mirror.streamStates().length === 0);
  });

  it('a target that stops reading never holds the recorder; it is reported lagging and catches up from the recorder’s files', async () => {
    const big = 16 * 1024 * 1024; // one segment holds more than every buffer between a and c
    cluster = await TestCluster.start(['a', 'b', 'c'], {}, big);
    const c = cluster;
    const [a, t] = [c.node('a'), c.node('c')];
    a.defaultPlacement = ['b', 'c']; // no segment records: the recorder's own placement (as while etcd is down)
    const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
    c.putRecording(a, R);
    c.publish();
    record(a, w, 0, 100);
    await c.run('both targets to start', () => a.agent.mirror.lag().filter((l) => l.bytes === 0).length === 2);

    t.running = false; // c stops reading: its socket fills, then the recorder's connection to it
    let slowest = 0;
    let full = false;
    const total = 160_000; // ~22 MB
    for (let i = 100; i < total; i += 4000) {
      record(a, w, i, Math.min(i + 4000, total));
      const t0 = performance.now();
      for (let k = 0; k < 5; k++) {
        c.nodes.forEach((n) => n.step());
        // c is alive but does not read: its connections still send heartbeats (a stopped node would be dropped after the heartbeat timeout)
        for (const p of t.network.inboundPeers()) p.connection.doWork();
        await new Promise((r) => setImmediate(r));
      }
      slowest = Math.max(slowest, (performance.now() - t0) / 5);
      const toC = a.network.connection('c')!;
      if (!toC.writable) full = true;
      expect(toC.bufferedBytes).toBeLessThan(4 * 1024 * 1024 + 2 * 1024 * 1024); // bounded: high-water mark + one message
    }
    await c.run('b to keep up', () => a.agent.mirror.lag().find((l) => l.node === 'b')?.bytes === 0, 60_000);
    const lagC = a.agent.mirror.lag().find((l) => l.node === 'c')!;
    expect(a.archive.describe(R).eventCount).toBe(total); // every event recorded
    expect(full).toBe(true); // back-pressure reached the recorder's connection...
    expect(slowest).toBeLessThan(1000); // ...and its duty cycle kept going
    expect(lagC.bytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(lagC.ms).toBeGreaterThan(100);

    t.running = true;
    await c.run('c to catch up from the recorder’s files', () => a.agent.mirror.lag().find((l) => l.node === 'c')?.bytes === 0, 60_000);
    const end = a.archive.openSegmentInfo(R)!.position;
    expect(t.agent.parts.get(R, big)!.next).toBe(end);
    expect(t.agent.parts.get(R, 0)!.complete).toBe(true); // the rolled segment reached c whole, with its padding
  }, 120_000);

  it('a target restarted in the middle of a segment resumes its .part at the last good frame', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
    c.putRecording(a, R);
    c.putSegment({ recordingId: R, base: 0, placement: ['b'] });
    c.publish();
    record(a, w, 0, 800);
    const mid = a.archive.openSegmentInfo(R)!.position;
    await c.run('b to hold the first 800 events', () => b.agent.parts.get(R, 0)?.next === mid);

    b.stop();
    b.running = false;
    record(a, w, 800, 1200); // while b is down
    await b.start();
    b.running = true;
    const receivedBefore = b.agent.receiver.bytesReceived;
    expect(receivedBefore).toBe(0);
    await c.run('b to resume its part', () => b.agent.parts.get(R, 0) !== undefined);
    expect(b.agent.parts.get(R, 0)!.next).toBe(mid); // resumed at its last good frame, not from zero
    const now = a.archive.openSegmentInfo(R)!.position;
    await c.run('b to catch up', () => b.agent.parts.get(R, 0)?.next === now);
    expect(b.agent.receiver.bytesReceived).toBe(now - mid); // only what it lacked

    record(a, w, 1200, 3000);
    c.putSealed(a, a.sealed[0]!, ['b']);
    c.publish();
    await c.run('b to install segment 0', () => b.events.copied.length === 1);
    expect(b.archive.verifySegment(R, 0).digest).toBe(a.sealed[0]!.digest);
  });

  it('takes no frame of a recording the view shows fencing, or from an incarnation that does not own it', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
    c.putRecording(a, R, { owner: { node: 'a', lease: 'an-older-lease' } });
    c.putSegment({ recordingId: R, base: 0, placement: ['b'] });
    c.publish();
    record(a, w, 0, 200);
    await c.settle(100);
    expect(b.agent.receiver.bytesReceived).toBe(0);
    expect(b.agent.parts.get(R, 0)).toBeUndefined();

    c.putRecording(a, R); // now owned by a's current incarnation
    c.publish();
    await c.run('b to receive', () => b.agent.parts.get(R, 0)?.next === a.archive.openSegmentInfo(R)!.position);
    const had = b.agent.parts.get(R, 0)!.next;

    c.putRecording(a, R, { state: 'fencing' });
    c.publish([b]); // b's view shows the fence; the recorder's does not yet
    record(a, w, 200, 400);
    await c.settle(100);
    expect(b.agent.parts.get(R, 0)!.next).toBe(had);
    expect(b.agent.receiver.refusals).toBeGreaterThan(0);
  });
});
