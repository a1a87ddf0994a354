/**
 * Invariant 6 (docs/REPLICATION.md §10) for copies nobody reads: bit rot in an idle replica is
 * found by the scrubber, the copy stops counting, is rebuilt from a verified copy, and every
 * node serves the events as sent. No read touches the damaged copy before the scrubber finds it.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort } from './support/cluster-harness.js';
import { kCopies, payloadsOf, segments, sendEvents, untilKPlacedCopies } from './support/cluster-checks.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

describe('the scrubber', () => {
  it('finds flipped bytes in an idle replica and has it rebuilt, without any read touching it', async () => {
    cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, clusterKeys: { scrubIntervalMs: 1500, scrubBytesPerSec: 8 * 1024 * 1024 } });
    const c = cluster;
    const recorder = await c.node('a').client();
    let recordingId: number;
    let sent: string[];
    try {
      const port = await freeUdpPort();
      recordingId = await recorder.startRecording({ channel: 'scrub', source: `udp://127.0.0.1:${port}` });
      sent = await sendEvents(port, 'scrub', 1200);
      await until('all events recorded', async () => (await recorder.describeRecording(recordingId)).eventCount >= 1200, 20_000);
      await recorder.stopRecording({ recordingId });
    } finally {
      await recorder.close();
    }
    await untilKPlacedCopies(c, 2, 30_000);
    const seg = (await segments(c)).find((s) => s.recordingId === recordingId && s.state === 'sealed' && s.base === 0)!;
    const holder = c.node(seg.replicas[0]!.node);
    const other = c.node(seg.replicas[1]!.node);
    const file = join(holder.dir, `${recordingId}-0.rec`);
    const good = readFileSync(join(other.dir, `${recordingId}-0.rec`)).subarray(0, seg.end);
    const logBefore = holder.log.length;
    const fd = openSync(file, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, 1000);
      b[0] = b[0]! ^ 0xff; // one payload byte of an early frame
      writeSync(fd, b, 0, 1, 1000);
    } finally {
      closeSync(fd);
    }
    await until('the scrubber reports the bad copy', () => holder.log.slice(logBefore).includes('scrub found a bad copy'), 30_000);
    // and counts it where an operator looks: the holder's /metrics (HTTP on control port + 1 by default)
    const metricsUrl = `http://127.0.0.1:${Number(holder.control.split(':')[1]) + 1}/metrics`;
    await until('the scrub failure on /metrics', async () => /^vcr_cluster_scrub_failures [1-9]/m.test(await (await fetch(metricsUrl)).text()), 10_000);
    await until('copy rebuilt and K verified copies', async () => {
      if ((await kCopies(c, 2, c.up())) !== true) return false;
      const cur = (await segments(c)).find((s) => s.recordingId === recordingId && s.base === 0)!;
      if (!cur.replicas.some((e) => e.node === holder.id)) return false;
      try {
        return readFileSync(file).subarray(0, seg.end).equals(good);
      } catch {
        return false;
      }
    }, 30_000);
    for (const n of c.up()) {
      const r = await n.client();
      try {
        expect(await payloadsOf(r, recordingId)).toEqual(sent);
      } finally {
        await r.close();
      }
    }
  });
});
