/**
 * Reads of segments held elsewhere (docs/REPLICATION.md §9) between in-process nodes over real
 * loopback sockets: the storage FrameCursor reads through RemoteSegments' source, waiting at
 * bytes not fetched yet, and delivers the same events as a local read on the holder; from a
 * position found by the holder (FindPosition), and following a live recording on its recorder;
 * a holder lost mid-read is replaced; a frame failing its CRC is read from another holder and
 * its sender suspected; the cache stays within its bound.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameCursor } from '../../../src/storage/recording-reader.js';
import { cachedFiles } from '../../../src/cluster/replication/remote-segments.js';
import { removeTempDirs } from '../../helpers/wait.js';
import { SEG, TestCluster, fingerprint, readAll, record, track, utcOf, type TestNode } from './support.js';

let cluster: TestCluster | undefined;
afterEach(() => {
  cluster?.close();
  cluster = undefined;
  removeTempDirs();
});

const R = 4;
type Ev = { utcNs: bigint; payload: Buffer; position: number };

function stoppedRecording(c: TestCluster, a: TestNode, events: number, holders: TestNode[] = [a]) {
  const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
  record(a, w, 0, events);
  w.stop();
  c.putRecording(a, R, { state: 'stopped', stoppedBy: a.id });
  for (const s of a.sealed) c.putSealed(a, s, [a.id], holders);
  c.publish();
  return a.archive.describe(R).stopPosition;
}

/** Reads R on `n` through its RemoteSegments from `from` until `done(events)`, stepping the cluster while the cursor waits. */
async function remoteRead(c: TestCluster, n: TestNode, from: number, limit: number, done: (events: Ev[], cursor: FrameCursor) => boolean, onProgress?: (cursor: FrameCursor) => void): Promise<Ev[]> {
  const cursor = new FrameCursor(R, n.agent.remote.source(R), from, true);
  const out: Ev[] = [];
  await c.run(
    'the remote read',
    () => {
      while (cursor.next(limit)) out.push({ utcNs: cursor.utcNs, payload: Buffer.from(cursor.buffer.subarray(cursor.payloadOffset, cursor.payloadOffset + cursor.payloadLength)), position: cursor.framePosition });
      onProgress?.(cursor);
      return done(out, cursor);
    },
    30_000,
  );
  return out;
}

describe('remote reads', () => {
  it('deliver the same events as a local read on the holder, from the start or from a position the holder finds', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const stop = stoppedRecording(c, a, 6000);
    expect(stop).toBeGreaterThan(3 * SEG);
    const events = await remoteRead(c, b, 0, stop, (_e, cur) => cur.position >= stop);
    expect(fingerprint(events)).toEqual(fingerprint(readAll(a.archive, R)));
    expect(b.holds(R, 0)).toBe(false); // the cache is no copy

    // a read that starts at a time inside segment 2: the holder finds the position
    const found = track(b.agent.queries.findPosition('a', R, 2 * SEG, utcOf(4500)));
    await c.run('the holder to find the position', () => found.done);
    const p = found.value!;
    expect(p).toBe(a.archive.findPosition(R, utcOf(4500)));
    b.agent.remote.ensure(R, 2 * SEG, p);
    const tail = await remoteRead(c, b, p, stop, (_e, cur) => cur.position >= stop);
    expect(tail[0]!.utcNs).toBe(utcOf(4500));
    expect(fingerprint(tail)).toEqual(fingerprint(readAll(a.archive, R, { position: p })));
  });

  it('follow a live recording on its recorder, segment after segment, until it stops', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
    c.putRecording(a, R);
    c.putSegment({ recordingId: R, base: 0, placement: ['a'] });
    c.publish();
    record(a, w, 0, 1000);
    const live = track(b.agent.queries.livePosition('a', R));
    await c.run('the live position', () => live.done);
    expect(live.value).toEqual({ position: a.archive.openSegmentInfo(R)!.position, live: true });

    let recorded = 1000;
    let published = 0;
    let stop = Number.MAX_SAFE_INTEGER;
    const events = await remoteRead(c, b, 0, Number.MAX_SAFE_INTEGER, (_e, cur) => cur.position >= stop, () => {
      // the recorder goes on while b reads; its seals reach the view; then it stops
      if (recorded < 5000) {
        record(a, w, recorded, recorded + 250);
        recorded += 250;
        if (recorded === 5000) {
          w.stop();
          stop = a.archive.describe(R).stopPosition;
          c.putRecording(a, R, { state: 'stopped', stoppedBy: 'a' });
        }
        for (; published < a.sealed.length; published++) c.putSealed(a, a.sealed[published]!, ['a']);
        c.publish();
      }
    });
    expect(a.sealed.length).toBeGreaterThanOrEqual(3);
    expect(fingerprint(events)).toEqual(fingerprint(readAll(a.archive, R)));
  });

  it('carry on from another holder when the holder is lost mid-read, and read a frame failing its CRC from another holder, suspecting the first', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'], { remote: { windowBytes: 16 * 1024 } });
    const c = cluster;
    const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
    const stop = stoppedRecording(c, a, 6000);
    // c holds verified copies of every segment too
    for (const s of a.sealed) {
      const f = track(t.agent.fetcher.fetch({ recordingId: R, base: s.base, from: s.base, end: s.end, digest: s.digest, holders: ['a'] }));
      await c.run('c to copy', () => f.done);
    }
    for (const s of a.sealed) c.putSealed(a, s, ['a', 'c'], [a, t]);
    c.publish();
    // corrupt one byte of a's copy of segment 1
    const head = a.archive.readRawFrames(R, SEG, 64 * 1024).bytes;
    const fd = openSync(join(a.dir, `${R}-${SEG}.rec`), 'r+');
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, head.length - 100);
    one[0] ^= 0xff;
    writeSync(fd, one, 0, 1, head.length - 100);
    closeSync(fd);

    const expected = fingerprint(readAll(t.archive, R, { position: 0, length: stop }));
    expect(expected.count).toBe(6000);
    let killed = false;
    const events = await remoteRead(c, b, 0, stop, (_e, cur) => cur.position >= stop, (cur) => {
      if (!killed && cur.position > 2 * SEG + 32 * 1024) {
        killed = true; // a dies in the middle of segment 2
        a.stop();
        a.running = false;
      }
    });
    expect(killed).toBe(true);
    expect(fingerprint(events)).toEqual(expected);
    expect(a.events.corrupt.map((x) => [x.recordingId, x.base])).toEqual([[R, SEG]]);
  });

  it('keep at most maxSegments cached, removing the files of the least recently used', async () => {
    cluster = await TestCluster.start(['a', 'b'], {}, SEG, { b: { remote: { maxSegments: 2 } } });
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const stop = stoppedRecording(c, a, 8000);
    let most = 0;
    const events = await remoteRead(c, b, 0, stop, (_e, cur) => cur.position >= stop, () => {
      most = Math.max(most, cachedFiles(b.dir).length);
    });
    expect(events.length).toBe(8000);
    expect(most).toBeLessThanOrEqual(3); // 2 kept, plus the one just added before the next eviction
    await c.settle(5);
    expect(cachedFiles(b.dir).length).toBeLessThanOrEqual(2);
    expect(b.agent.remote.evictions).toBeGreaterThan(0);
  });
});
