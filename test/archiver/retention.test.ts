/**
 * Retention units on a real archive directory (StorageBinding) under a manual clock: the plan
 * (cuts by age and by bytes, holds), the session (bounded steps, deletion through the store's
 * delete path, holds always win), and the manager (schedule, coordinator-only, requests,
 * counters, notification).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiverCounters } from '../../src/archiver/archiver-counters.js';
import type { ArchiveStore } from '../../src/archiver/ports.js';
import { parseRetentionConfig } from '../../src/archiver/retention-config.js';
import { RetentionManager } from '../../src/archiver/retention-manager.js';
import { BytesCutSearch, planPieces } from '../../src/archiver/retention-plan.js';
import { RetentionSession, type RetentionResult } from '../../src/archiver/retention-session.js';
import { StorageBinding } from '../../src/archiver/storage-binding.js';
import { ManualClock } from '../../src/util/clock.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { removeTempDirs, tempDir } from '../helpers/wait.js';

const SEC = 1_000_000_000n;
const DAY = 86_400n * SEC;
const T0 = 1_700_000_000n * SEC;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const stores: StorageBinding[] = [];
afterEach(() => {
  while (stores.length) stores.pop()!.close();
  removeTempDirs();
});

function open(): StorageBinding {
  const s = StorageBinding.open(tempDir('vcr-ret-'), { segmentLength: 65536 });
  stores.push(s);
  return s;
}

/** One stopped recording of `channel` with an event (payload `size` bytes) at each of `times`. */
function record(store: StorageBinding, channel: string, times: bigint[], size = 100, aliases: string[] = []): number {
  const w = store.createRecording({ channel, aliases, source: 'udp://127.0.0.1:1', startUtcNs: times[0]!, startMonoNs: 0n });
  const payload = Buffer.alloc(size, 7);
  for (const t of times) w.append(payload, 0, size, t, t - times[0]!);
  w.commit();
  w.stop(times[times.length - 1]!);
  return w.recordingId;
}

/** UTC times of the events left in a recording. */
function timesOf(store: StorageBinding, recordingId: number): bigint[] {
  const r = store.openReader(recordingId, store.describe(recordingId)!.startPosition, false);
  const out: bigint[] = [];
  while (r.poll((_b, _o, _l, _p, utc) => out.push(utc), 1000) > 0);
  r.close();
  return out;
}

/** Events one per hour over `days` days, starting at T0. */
function hourly(days: number): bigint[] {
  return Array.from({ length: days * 24 }, (_, i) => T0 + BigInt(i) * 3600n * SEC);
}

function runSession(store: ArchiveStore, config: unknown, now: bigint, dryRun: boolean, maxSteps = 100_000): RetentionResult {
  const clock = new ManualClock(0n, now);
  const s = new RetentionSession(1, { dryRun, requested: true }, {
    store,
    config: parseRetentionConfig(config),
    utcNow: () => clock.epochNanos(),
    nanoTime: () => clock.nanoTime(),
    log: silent,
  });
  for (let i = 0; i < maxSteps && !s.isDone(); i++) s.doWork();
  expect(s.isDone()).toBe(true);
  return s.result;
}

describe('retention plan', () => {
  it('splits the expired interval into what goes and what each hold keeps', () => {
    const pieces = planPieces(0n, 100n, [
      { holdId: 1, channel: '', fromUtcNs: 10n, toUtcNs: 20n },
      { holdId: 2, channel: 'a', fromUtcNs: 90n, toUtcNs: 200n },
    ]);
    expect(pieces).toEqual([
      { kind: 'delete', fromUtcNs: 0n, toUtcNs: 10n },
      { kind: 'delete', fromUtcNs: 20n, toUtcNs: 90n },
      { kind: 'held', fromUtcNs: 10n, toUtcNs: 20n, holdId: 1 },
      { kind: 'held', fromUtcNs: 90n, toUtcNs: 100n, holdId: 2 },
    ]);
    expect(planPieces(50n, 50n, [])).toEqual([]);
  });

  it('finds the earliest time from which a channel holds at most maxBytes', () => {
    const store = open();
    const times = hourly(2);
    const id = record(store, 'c', times, 100);
    const info = store.describe(id)!;
    const frame = (info.stopPosition - info.startPosition) / times.length;
    // keep at most 10 frames: the earliest such time is just after event 37 (events 38..47 stay)
    const search = new BytesCutSearch([info], 10 * frame, info.startUtcNs, T0 + 10n * DAY, (r, t) => store.findPosition(r, t));
    while (!search.done) search.step();
    expect(search.cut).toBe(times[37]! + 1n);
    const within = new BytesCutSearch([info], 48 * frame, info.startUtcNs, T0 + 10n * DAY, (r, t) => store.findPosition(r, t));
    within.step();
    expect(within.done).toBe(true);
    expect(within.cut).toBeUndefined();
  });
});

describe('retention session', () => {
  it('deletes events older than maxAge through the delete path, per channel limit', () => {
    const store = open();
    const a = record(store, 'a', hourly(10));
    const b = record(store, 'b', hourly(10));
    const keep = record(store, 'audit', hourly(10));
    const now = T0 + 10n * DAY;
    const config = { default: { maxAge: '3d' }, channels: { b: { maxAge: '8d' }, audit: {} } };
    const r = runSession(store, config, now, false);
    expect(timesOf(store, a)).toEqual(hourly(10).filter((t) => t >= now - 3n * DAY));
    expect(timesOf(store, b)).toEqual(hourly(10).filter((t) => t >= now - 8n * DAY));
    expect(timesOf(store, keep)).toHaveLength(240);
    expect(r.events).toBe(7 * 24 + 2 * 24);
    expect(r.bytes).toBe(r.events * 100);
    expect(r.channels).toBe(2);
    expect(r.entries.map((e) => [e.channel, e.kind, e.limit, e.events])).toEqual([
      ['a', 'delete', 'maxAge', 168],
      ['b', 'delete', 'maxAge', 48],
    ]);
    // the local ledger holds the deletions, as `vcr delete` leaves them
    expect(store.archive.listDeletions().map((d) => d.channel)).toEqual(['a', 'b']);
    // a second pass finds nothing more and records no deletion
    const again = runSession(store, config, now, false);
    expect(again.events).toBe(0);
    expect(store.archive.listDeletions()).toHaveLength(2);
  });

  it('holds always win: a held interval inside the expired range is kept, and a dry run says which hold keeps what', () => {
    const store = open();
    const id = record(store, 'radar', hourly(10), 50, ['radar.alias']);
    const all = hourly(10);
    const now = T0 + 10n * DAY;
    // day 2 held by the channel's alias, hours 100..109 held for every channel (closed intervals)
    const h1 = store.addQuarantine('radar.alias', T0 + 2n * DAY, T0 + 3n * DAY - 1n);
    const h2 = store.addQuarantine('', all[100]!, all[109]!);
    store.addQuarantine('other', T0, now); // another channel's hold protects nothing here
    const config = { channels: { radar: { maxAge: '5d' } } };
    const dry = runSession(store, config, now, true);
    const cut = now - 5n * DAY;
    const held = (t: bigint): boolean => (t >= T0 + 2n * DAY && t < T0 + 3n * DAY) || (t >= all[100]! && t <= all[109]!);
    const going = all.filter((t) => t < cut && !held(t));
    expect(dry.events).toBe(going.length);
    expect(dry.bytes).toBe(going.length * 50);
    const byHold = dry.entries.filter((e) => e.kind === 'held').map((e) => [e.holdId, e.events]);
    expect(byHold).toEqual([
      [h1, 24],
      [h2, 10],
    ]);
    expect(dry.entries.filter((e) => e.kind === 'delete').map((e) => [e.fromUtcNs, e.toUtcNs])).toEqual([
      [T0, T0 + 2n * DAY],
      [T0 + 3n * DAY, all[100]!],
      [all[109]! + 1n, cut],
    ]);
    expect(timesOf(store, id)).toHaveLength(240); // a dry run deletes nothing
    const run = runSession(store, config, now, false);
    expect(run.events).toBe(going.length);
    expect(timesOf(store, id)).toEqual(all.filter((t) => t >= cut || held(t)));
  });

  it('trims a channel to maxBytes, oldest first; the later of the two cuts wins', () => {
    const store = open();
    const times = hourly(4);
    const id = record(store, 'c', times, 200);
    const info = store.describe(id)!;
    const frame = (info.stopPosition - info.startPosition) / times.length;
    const now = T0 + 4n * DAY;
    const r = runSession(store, { channels: { c: { maxAge: '90d', maxBytes: 20 * frame } } }, now, false);
    expect(r.entries[0]!.limit).toBe('maxBytes');
    expect(timesOf(store, id)).toEqual(times.slice(-20));
    // now the age limit cuts later than the byte limit
    const r2 = runSession(store, { channels: { c: { maxAge: '1h', maxBytes: 20 * frame } } }, now, false);
    expect(r2.entries[0]!.limit).toBe('maxAge');
    expect(timesOf(store, id)).toEqual(times.filter((t) => t >= now - 3600n * SEC));
  });

  it('works in bounded steps and deletes in chunks', () => {
    const store = open();
    const times = Array.from({ length: 50_000 }, (_, i) => T0 + BigInt(i) * 1_000_000n);
    const id = record(store, 'big', times, 8);
    const now = T0 + DAY;
    const clock = new ManualClock(0n, now);
    const deletes: [bigint, bigint][] = [];
    const spy: ArchiveStore = Object.create(store) as ArchiveStore;
    spy.deleteEvents = (c, f, t) => {
      deletes.push([f, t]);
      return store.deleteEvents(c, f, t);
    };
    const s = new RetentionSession(1, { dryRun: false, requested: false }, {
      store: spy,
      config: parseRetentionConfig({ default: { maxAge: '1h' } }),
      utcNow: () => clock.epochNanos(),
      nanoTime: () => clock.nanoTime(),
      log: silent,
      chunkEvents: 20_000,
    });
    let steps = 0;
    while (!s.isDone()) {
      expect(s.doWork()).toBeLessThanOrEqual(16_384 + 1);
      steps++;
    }
    expect(steps).toBeGreaterThan(50_000 / 16_384);
    expect(deletes.length).toBe(3); // 20,000 events per chunk
    expect(deletes[0]![0]).toBe(T0);
    expect(deletes[1]![0]).toBe(deletes[0]![1] + 1n); // chunks meet: closed intervals [from, to]
    expect(deletes[2]![1]).toBe(now - 3600n * SEC - 1n);
    expect(s.result.events).toBe(50_000);
    expect(timesOf(store, id)).toEqual([]);
    expect(store.archive.listSegments(id).filter((x) => x.state === 'tombstone').length).toBeGreaterThan(1);
    // later passes over a recording whose segments are tombstones find nothing, by age or by bytes
    const later = runSession(store, { default: { maxAge: '1h', maxBytes: 1000 } }, now + DAY, false);
    expect(later.errors).toEqual([]);
    expect(later.events).toBe(0);
  });

  it('passes over a channel whose store fails, reports it, and goes on with the others', () => {
    const store = open();
    record(store, 'a', hourly(3));
    const b = record(store, 'b', hourly(3));
    const failing: ArchiveStore = Object.create(store) as ArchiveStore;
    failing.deleteEvents = (c, f, t) => {
      if (c === 'a') throw new VcrError(ErrorCode.STORAGE_FULL, 'disk full');
      return store.deleteEvents(c, f, t);
    };
    const r = runSession(failing, { default: { maxAge: '1d' } }, T0 + 3n * DAY, false);
    expect(r.errors).toEqual([{ channel: 'a', code: ErrorCode.STORAGE_FULL, message: 'disk full' }]);
    expect(r.entries.map((e) => e.channel)).toEqual(['b']);
    expect(timesOf(store, b)).toHaveLength(24);
  });
});

describe('retention manager', () => {
  function manager(store: ArchiveStore, clock: ManualClock, doc: unknown, mayRunScheduled = (): boolean => true) {
    const counters = new ArchiverCounters();
    const notified: RetentionResult[] = [];
    const m = new RetentionManager({
      config: doc === undefined ? undefined : parseRetentionConfig(doc),
      store,
      clock,
      log: silent,
      counters,
      notify: (r) => notified.push(r),
      mayRunScheduled,
    });
    return { m, counters, notified };
  }

  function steps(m: RetentionManager, n = 1000): void {
    for (let i = 0; i < n; i++) m.doWork();
  }

  it('runs on its schedule (the first 5 minutes after start), counts, and notifies runs that deleted something', () => {
    const store = open();
    const id = record(store, 'a', hourly(3));
    const clock = new ManualClock(0n, T0 + 3n * DAY);
    const { m, counters, notified } = manager(store, clock, { interval: '1h', default: { maxAge: '2d' } });
    steps(m);
    expect(counters.get('retentionRuns')).toBe(0);
    clock.advanceMs(280_000);
    steps(m);
    expect(counters.get('retentionRuns')).toBe(0);
    clock.advanceMs(20_000);
    steps(m);
    // now T0 + 3d + 5 min: events before T0 + 1d + 5 min expired, hours 0..24
    expect(counters.get('retentionRuns')).toBe(1);
    expect(counters.get('retentionEventsDeleted')).toBe(25);
    expect(counters.get('retentionBytesDeleted')).toBe(2500);
    expect(counters.get('retentionLastRunMs')).toBe(Number((T0 + 3n * DAY + 300n * SEC) / 1_000_000n));
    expect(notified.map((r) => [r.events, r.requested])).toEqual([[25, false]]);
    expect(timesOf(store, id)).toHaveLength(47);
    // the next one an interval later: it deletes the hour that expired meanwhile, nothing else
    clock.advanceMs(59 * 60_000);
    steps(m);
    expect(counters.get('retentionRuns')).toBe(1);
    clock.advanceMs(60_000);
    steps(m);
    expect(counters.get('retentionRuns')).toBe(2);
    expect(timesOf(store, id)).toHaveLength(46);
    expect(notified).toHaveLength(2);
    m.close();
  });

  it('runs no scheduled pass where another node holds the role, but answers requests', async () => {
    const store = open();
    const id = record(store, 'a', hourly(3));
    const clock = new ManualClock(0n, T0 + 3n * DAY);
    let leading = false;
    const { m, counters, notified } = manager(store, clock, { interval: '1m', default: { maxAge: '2d' } }, () => leading);
    clock.advanceMs(3 * 60_000);
    steps(m);
    expect(counters.get('retentionRuns')).toBe(0);
    const dry = m.start(true);
    const again = m.start(true); // joins the dry run in progress
    steps(m);
    const [d1, d2] = await Promise.all([dry, again]);
    expect(d1).toBe(d2);
    expect(d1.events).toBe(25); // hours 0..24 are before T0 + 1d + 3 min
    expect(timesOf(store, id)).toHaveLength(72);
    expect(counters.get('retentionRuns')).toBe(0);
    const run = m.start(false);
    steps(m);
    const r = await run;
    expect(r.events).toBe(25);
    expect(notified.map((x) => x.requested)).toEqual([true]);
    // a requested run that deletes nothing is still announced: the client hears the end
    const none = m.start(false);
    steps(m);
    expect((await none).events).toBe(0);
    expect(notified).toHaveLength(2);
    leading = true;
    clock.advanceMs(60_000);
    steps(m);
    expect(counters.get('retentionRuns')).toBe(3);
    // that scheduled run deleted nothing (the next event expires in an hour): counted, not announced
    expect(notified).toHaveLength(2);
    m.close();
  });

  it('refuses requests without a retention config, and while stopping', async () => {
    const store = open();
    const clock = new ManualClock();
    const { m } = manager(store, clock, undefined);
    await expect(m.start(true)).rejects.toMatchObject({ code: ErrorCode.NOT_ALLOWED });
    const { m: m2 } = manager(store, clock, { default: { maxAge: '1d' } });
    const pending = m2.start(false);
    m2.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.NOT_ALLOWED });
  });
});
