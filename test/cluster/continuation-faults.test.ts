/**
 * A continuation whose making crashed half-way (docs/REPLICATION.md §7 "Continuation", §10
 * invariant 1): a recorder paused past its lease is fenced below what it holds; when it resumes
 * it moves its tail into a continuation recording and is killed (SIGKILL, by itself, through
 * VCR_CONTINUATION_KILL_AT) right after one step of that; restarted, it finishes the same
 * continuation. Then every event sent is read once, in order, across the fenced head and its
 * one continuation, from every node; no second continuation exists (of the head or of the
 * continuation). Real etcd, real archiver processes, real files.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTINUATION_STEPS, type ContinuationStep } from '../../src/archiver/continuation-steps.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, until } from '../helpers/wait.js';
import { Cluster, freeUdpPort, type NodeProcess } from './support/cluster-harness.js';
import { kCopies, payloadsOf, recordings, sendEvents } from './support/cluster-checks.js';
import { dumpCluster } from './support/partition-support.js';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  removeTempDirs();
});

/** The payloads a node serves for a recording; undefined while it answers REPLICA_UNAVAILABLE (a moment after a restart). */
async function readOn(n: NodeProcess, recordingId: number): Promise<string[] | undefined> {
  const client = await n.client();
  try {
    return await payloadsOf(client, recordingId);
  } catch (e) {
    if (e instanceof VcrError && e.code === ErrorCode.REPLICA_UNAVAILABLE) return undefined;
    throw e;
  } finally {
    await client.close();
  }
}

async function orDump<T>(c: Cluster, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    await dumpCluster(c);
    throw e;
  }
}

/** A cluster whose recorder `a` was fenced below what it holds and killed itself right after `step` of making the continuation. */
async function killedAt(step: ContinuationStep) {
  cluster = await Cluster.start({ n: 3, k: 2, graceMs: 1000, leaseTtlMs: 2000, env: { a: { VCR_CONTINUATION_KILL_AT: step } } });
  const c = cluster;
  const a = c.node('a');
  const port = await freeUdpPort();
  const client = await a.client();
  const recordingId = await client.startRecording({ channel: 'crashy', source: `udp://127.0.0.1:${port}` });
  const first = await sendEvents(port, 'p1', 500);
  await until('recorded', async () => (await client.describeRecording(recordingId)).eventCount >= 500, 20_000);
  await client.close();
  a.pause();
  // sent while the recorder is stopped: the kernel keeps them in its socket buffer, and they
  // lie past the fenced end (no target can have them)
  const during = await sendEvents(port, 'p2', 300);
  const fenced = await orDump(c, until('fenced while paused', async () => {
    const r = (await recordings(c)).find((x) => x.recordingId === recordingId);
    return r?.state === 'stopped' ? r : undefined;
  }, 40_000, 100));
  a.resume();
  // it rejoins, starts the continuation and kills itself right after the step
  await orDump(c, until(`a killed at "${step}"`, async () => !a.running, 30_000));
  expect(a.log).toContain(`"step":"${step}"`);
  const made = (await recordings(c)).filter((r) => r.continues?.recordingId === recordingId);
  expect(made.length).toBe(1);
  const cont = made[0]!;
  expect(cont.continues).toEqual({ recordingId, position: fenced.stopPosition });
  // the kill came where it was meant to: the local continuation is absent only after "created"
  expect(existsSync(join(a.dir, `${cont.recordingId}-0.rec`))).toBe(step !== 'created');

  return { c, a, recordingId, fenced, cont, first, during };
}

describe('a continuation whose making was killed half-way is finished after a restart', () => {
  for (const step of CONTINUATION_STEPS) {
    it(`killed right after "${step}": the restarted recorder completes its one continuation; every event is read once, in order, on every node`, async () => {
      const { c, a, recordingId, fenced, cont, first, during } = await killedAt(step);
      a.env = {};
      await a.start();
      const done = await orDump(c, until('the continuation finished and stopped', async () => {
        const r = (await recordings(c)).find((x) => x.recordingId === cont.recordingId);
        return r?.state === 'stopped' ? r : undefined;
      }, 40_000));
      expect(done.continues).toEqual({ recordingId, position: fenced.stopPosition });
      expect(done.owner.node).toBe('a');
      // one continuation in all: none made again, none of the continuation itself
      expect((await recordings(c)).filter((r) => r.continues !== undefined).map((r) => r.recordingId)).toEqual([cont.recordingId]);
      // the fenced head is as the fence left it
      const head = (await recordings(c)).find((x) => x.recordingId === recordingId)!;
      expect({ state: head.state, stop: head.stopPosition }).toEqual({ state: 'stopped', stop: fenced.stopPosition });
      await orDump(c, until('K copies', async () => (await kCopies(c, 2, c.up())) === true, 30_000));
      // the restarted process finished the one its predecessor made, and made none
      const stats = await a.client();
      try {
        const counters = (await stats.stats()).counters;
        expect({ made: counters.get('continuationsMade'), finished: counters.get('continuationsFinished'), emptied: counters.get('continuationsEmptied') }).toEqual({ made: 0, finished: 1, emptied: 0 });
      } finally {
        await stats.close();
      }
      const sent = [...first, ...during];
      for (const n of c.up()) {
        const h = await orDump(c, until(`head readable on ${n.id}`, async () => readOn(n, recordingId), 20_000));
        const t = await orDump(c, until(`continuation readable on ${n.id}`, async () => readOn(n, cont.recordingId), 20_000));
        const all = [...h, ...t];
        // every event once, in order: nothing lost, nothing served twice
        if (all.length !== sent.length) await dumpCluster(c);
        expect({ node: n.id, events: all.length, same: all.every((e, i) => e === sent[i]) }).toEqual({ node: n.id, events: sent.length, same: true });
      }
    }, 150_000);
  }

  it('killed right after "created" and its directory wiped: the frames are gone, so the continuation is stopped empty (logged and counted), and it stays the only one', async () => {
    const { c, a, recordingId, cont, first, during } = await killedAt('created');
    a.wipe();
    a.env = {};
    await a.start();
    const done = await orDump(c, until('the continuation stopped', async () => {
      const r = (await recordings(c)).find((x) => x.recordingId === cont.recordingId);
      return r?.state === 'stopped' ? r : undefined;
    }, 40_000));
    expect({ stop: done.stopPosition, events: done.eventCount }).toEqual({ stop: 0, events: 0 });
    expect((await recordings(c)).filter((r) => r.continues !== undefined).map((r) => r.recordingId)).toEqual([cont.recordingId]);
    const stats = await a.client();
    try {
      const counters = (await stats.stats()).counters;
      expect({ made: counters.get('continuationsMade'), finished: counters.get('continuationsFinished'), emptied: counters.get('continuationsEmptied') }).toEqual({ made: 0, finished: 0, emptied: 1 });
    } finally {
      await stats.close();
    }
    // what the targets held (the fenced head) is still served, the same everywhere
    const sent = [...first, ...during];
    const heads = new Set<string>();
    for (const n of c.up()) {
      const h = await orDump(c, until(`head readable on ${n.id}`, async () => readOn(n, recordingId), 20_000));
      expect({ node: n.id, prefix: h.length > 0 && h.every((e, i) => e === sent[i]) }).toEqual({ node: n.id, prefix: true });
      heads.add(JSON.stringify(h));
    }
    expect(heads.size).toBe(1);
  }, 150_000);
});
