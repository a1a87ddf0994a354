/**
 * Fetching sealed segments (docs/REPLICATION.md §5.5) between in-process nodes over real
 * loopback sockets: a copy of a segment a holder rewrote with deletions still verifies against
 * the recorded digest; a resume position inside a merged DELETED run makes the holder answer
 * RESTART and the copy starts over; a holder lost mid-copy is replaced at the same position;
 * a corrupt byte in a holder's copy is caught by its CRC and the holder suspected (it verifies
 * and reports itself); the token bucket paces the copy.
 */
import { openSync, closeSync, writeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY } from '../../../src/cluster/cluster-keys.js';
import { ErrorCode } from '../../../src/util/errors.js';
import type { SealedSegment } from '../../../src/storage/types.js';
import { removeTempDirs } from '../../helpers/wait.js';
import { SEG, TestCluster, fingerprint, readAll, record, track, utcOf, type TestNode } from './support.js';

let cluster: TestCluster | undefined;
afterEach(() => {
  cluster?.close();
  cluster = undefined;
  removeTempDirs();
});

const R = 3;

/** A stopped recording of `events` events on `a`, its segments sealed in the keyspace with `a` as the holder. */
function stoppedRecording(c: TestCluster, a: TestNode, events: number, holders: TestNode[] = [a]): SealedSegment[] {
  const w = a.archive.createRecording({ recordingId: R, channel: 'ch', source: 'udp://127.0.0.1:9', startUtcNs: 1n, startMonoNs: 1n });
  record(a, w, 0, events);
  w.stop();
  const sealed = [...a.sealed];
  c.putRecording(a, R, { state: 'stopped', stoppedBy: a.id });
  for (const s of sealed) c.putSealed(a, s, c.nodes.map((n) => n.id).slice(0, 2), holders);
  c.publish();
  return sealed;
}

async function fetchSegment(c: TestCluster, n: TestNode, s: SealedSegment, holders: string[]) {
  const t = track(n.agent.fetcher.fetch({ recordingId: R, base: s.base, from: s.base, end: s.end, digest: s.digest, holders }));
  await c.run(`${n.id} to fetch segment ${s.base}`, () => t.done, 30_000);
  if (t.error) throw t.error;
  return t.value!;
}

/** The number of whole frames in `bytes` (as readRawFrames returns them). */
function framesIn(bytes: Buffer): number {
  let n = 0;
  for (let at = 0; at + 32 <= bytes.length; at += (bytes.readInt32LE(at) + 7) & ~7) n++;
  return n;
}

describe('segment fetch', () => {
  it('copies a segment the holder rewrote with deletions: the digest verifies and the deleted events stay deleted', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    const r = a.archive.deleteEvents({ fromUtcNs: utcOf(100), toUtcNs: utcOf(400) });
    expect(r.framesDeleted).toBe(300);
    expect(a.archive.deletionLogBytes(R, 0)!.length).toBeGreaterThan(0);

    const summary = await fetchSegment(c, b, s0!, ['a']);
    expect(summary.digest).toBe(s0!.digest);
    expect(b.archive.verifySegment(R, 0).digest).toBe(s0!.digest);
    const read = (n: TestNode) => fingerprint(readAll(n.archive, R, { position: 0, length: s0!.end }));
    expect(read(b)).toEqual(read(a));
    expect(read(b).count).toBe(s0!.frames - 300);
  });

  it('starts over from the segment start when the resume position lies inside a run the holder merged by a deletion', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    // b already holds the first ~64 KiB of the segment (a mirror stream cut short)
    const head = a.archive.readRawFrames(R, 0, 64 * 1024).bytes;
    const k = framesIn(head);
    const part = b.agent.parts.open(R, 0, SEG, 0);
    expect(part.append(0, head).status).toBe('ok');
    const resumeAt = part.next;
    // then a deletes events k-5 .. k+4: the frame at b's resume position is now inside one DELETED frame
    expect(a.archive.deleteEvents({ fromUtcNs: utcOf(k - 5), toUtcNs: utcOf(k + 5) }).framesDeleted).toBe(10);
    expect(() => a.archive.readRawFrames(R, resumeAt, 1024)).toThrowError(expect.objectContaining({ code: ErrorCode.INVALID_POSITION }));

    const summary = await fetchSegment(c, b, s0!, ['a']);
    expect(b.agent.fetcher.restarts).toBe(1);
    expect(summary.digest).toBe(s0!.digest);
    const events = readAll(b.archive, R, { position: 0, length: s0!.end });
    expect(events.length).toBe(s0!.frames - 10);
    expect(events.some((e) => e.utcNs >= utcOf(k - 5) && e.utcNs < utcOf(k + 5))).toBe(false);
  });

  it('resumes the .part a node already has and asks only for the rest', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    const head = a.archive.readRawFrames(R, 0, 100 * 1024).bytes;
    b.agent.parts.open(R, 0, SEG, 0).append(0, head);
    const summary = await fetchSegment(c, b, s0!, ['a']);
    expect(summary.digest).toBe(s0!.digest);
    expect(b.agent.fetcher.bytesFetched).toBeLessThan(s0!.end - head.length + 64);
    expect(b.agent.fetcher.restarts).toBe(0);
  });

  it('continues from another holder at the same position when the holder dies mid-copy', async () => {
    // b copies slowly (64 KiB windows at 512 KiB/s) so that a can be killed in the middle
    cluster = await TestCluster.start(['a', 'b', 'c'], {}, SEG, { b: { repairBytesPerSec: 512 * 1024, fetcher: { windowBytes: 32 * 1024 } } });
    const c = cluster;
    const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
    const [s0] = stoppedRecording(c, a, 2500);
    await fetchSegment(c, t, s0!, ['a']); // c holds a verified copy too
    c.putSealed(a, s0!, ['a', 'b'], [a, t]);
    c.publish();

    const job = track(b.agent.fetcher.fetch({ recordingId: R, base: 0, from: 0, end: s0!.end, digest: s0!.digest, holders: ['a', 'c'] }));
    await c.run('b to be halfway', () => (b.agent.parts.get(R, 0)?.next ?? 0) > 80 * 1024);
    const servedByA = a.agent.server.bytesServed;
    a.stop(); // kill a's data path: its connections drop
    a.running = false;
    await c.run('b to finish from c', () => job.done, 30_000);
    expect(job.error).toBeUndefined();
    expect(job.value!.digest).toBe(s0!.digest);
    expect(servedByA).toBeGreaterThan(0);
    expect(t.agent.server.bytesServed).toBeGreaterThan(0);
    expect(b.agent.fetcher.restarts).toBe(0);
    // nothing was copied twice beyond the window a lost (the copy continued where it was)
    expect(b.agent.fetcher.bytesFetched).toBeLessThan(s0!.end + 64 * 1024);
  });

  it('asks the holders the view shows live now, not only those named when the fetch was queued (a dead holder is not waited for)', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c'], {}, SEG, { b: { fetcher: { stallMs: 2000 } } });
    const c = cluster;
    const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
    const [s0] = stoppedRecording(c, a, 2500);
    await fetchSegment(c, t, s0!, ['a']); // c copies it (a repair), and joins
    c.putSealed(a, s0!, ['b', 'c'], [a, t]);
    // a dies: its data path stops and its member key goes
    a.stop();
    a.running = false;
    c.keys.kvs.delete(KEY.member('a'));
    c.keys.revision++;
    c.publish();
    // b's fetch was asked (as a replica pass queues it) naming a, the holder it knew then
    const summary = await fetchSegment(c, b, s0!, ['a']);
    expect(summary.digest).toBe(s0!.digest);
    expect(t.agent.server.bytesServed).toBeGreaterThan(0);
  });

  it('a corrupt byte in a holder’s copy fails its CRC: the holder is suspected, verifies itself and reports; the copy comes from another', async () => {
    cluster = await TestCluster.start(['a', 'b', 'c']);
    const c = cluster;
    const [a, b, t] = [c.node('a'), c.node('b'), c.node('c')];
    const [s0] = stoppedRecording(c, a, 2500);
    await fetchSegment(c, t, s0!, ['a']);
    c.putSealed(a, s0!, ['a', 'b'], [a, t]);
    c.publish();
    // flip one payload byte in the middle of a's copy
    const head = a.archive.readRawFrames(R, 0, 128 * 1024).bytes;
    const victim = head.length - 200; // inside some frame
    const fd = openSync(join(a.dir, `${R}-0.rec`), 'r+');
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, victim);
    one[0] ^= 0x5a;
    writeSync(fd, one, 0, 1, victim);
    closeSync(fd);

    const summary = await fetchSegment(c, b, s0!, ['a', 'c']);
    expect(summary.digest).toBe(s0!.digest);
    await c.run('a to verify the suspected copy and report it', () => a.events.corrupt.length > 0);
    expect(a.events.corrupt[0]).toMatchObject({ recordingId: R, base: 0 });
    expect(a.events.corrupt[0]!.error.code).toBe(ErrorCode.CORRUPT_SEGMENT);
    expect(t.agent.server.bytesServed).toBeGreaterThan(0);
  });

  it('installs from the digest of the frames it CRC-checked as they arrived, without reading the part back: a byte flipped in the part after arrival is found by the next verification', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    // between the last frame's arrival and the install, one payload byte of b's part changes on disk
    const install = b.archive.installSegment.bind(b.archive);
    const checked: unknown[] = [];
    b.archive.installSegment = (recordingId, base, path, digest, opts) => {
      checked.push(opts?.checked);
      const fd = openSync(path, 'r+');
      const one = Buffer.alloc(1);
      readSync(fd, one, 0, 1, 100 * 1024);
      one[0] ^= 0x5a;
      writeSync(fd, one, 0, 1, 100 * 1024);
      closeSync(fd);
      return install(recordingId, base, path, digest, opts);
    };

    const summary = await fetchSegment(c, b, s0!, ['a']);
    expect(checked).toHaveLength(1);
    expect(summary).toEqual({ digest: s0!.digest, frames: s0!.frames, end: s0!.end, firstUtcNs: s0!.firstUtcNs, lastUtcNs: s0!.lastUtcNs });
    expect(b.holds(R, 0)).toBe(true);
    // what finds it: a verification of the copy (at start, a Suspect from a reader, the scrubber's walk)
    expect(() => b.archive.verifySegment(R, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
    const scrub = b.archive.scrubSegment(R, 0);
    expect(() => {
      while (!scrub.step(64 * 1024));
    }).toThrowError(expect.objectContaining({ code: ErrorCode.CORRUPT_SEGMENT }));
  });

  it('paces the copy with the token bucket', async () => {
    const rate = 1024 * 1024; // 1 MiB/s, windows of 32 KiB: the first ~100 KiB go at once, the rest at the rate
    cluster = await TestCluster.start(['a', 'b'], {}, SEG, { b: { repairBytesPerSec: rate, fetcher: { windowBytes: 32 * 1024 } } });
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    const t0 = Date.now();
    await fetchSegment(c, b, s0!, ['a']);
    const ms = Date.now() - t0;
    const expectedMs = ((s0!.end - rate / 10) / rate) * 1000;
    expect(ms).toBeGreaterThanOrEqual(expectedMs * 0.8);
  });

  it('rejects with DIGEST_MISMATCH when no holder’s copy matches the record, leaving nothing installed', async () => {
    cluster = await TestCluster.start(['a', 'b']);
    const c = cluster;
    const [a, b] = [c.node('a'), c.node('b')];
    const [s0] = stoppedRecording(c, a, 2500);
    const t = track(b.agent.fetcher.fetch({ recordingId: R, base: 0, from: 0, end: s0!.end, digest: 'f'.repeat(64), holders: ['a'] }));
    await c.run('the fetch to settle', () => t.done);
    expect((t.error as { code: number }).code).toBe(ErrorCode.DIGEST_MISMATCH);
    expect(b.holds(R, 0)).toBe(false);
    expect(b.agent.parts.get(R, 0)).toBeUndefined();
    // a was suspected, verified its copy against the record, and found nothing wrong
    await c.settle(50);
    expect(a.events.corrupt).toEqual([]);
  });
});
