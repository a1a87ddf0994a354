/** Pure pieces: catalog filters (channel/alias, states, time overlap) and the answer cache limits. */
import { describe, expect, it } from 'vitest';
import { channelViews, filterRecordings } from '../../src/archiver/catalog-queries.js';
import { ControlSession } from '../../src/archiver/control-session.js';
import type { RecordingInfo } from '../../src/archiver/ports.js';

function rec(id: number, channel: string, state: RecordingInfo['state'], start: bigint, stop: bigint, aliases: string[] = []): RecordingInfo {
  return {
    recordingId: id,
    state,
    startPosition: 0,
    stopPosition: 64,
    startUtcNs: start,
    stopUtcNs: stop,
    startMonoNs: 0n,
    stopMonoNs: 0n,
    eventCount: 1,
    segmentLength: 65536,
    channel,
    aliases,
    source: `udp://127.0.0.1:${5000 + id}`,
  };
}

describe('catalog queries', () => {
  const all = [rec(0, 'a', 'stopped', 100n, 200n, ['x']), rec(1, 'b', 'stopped', 150n, 300n), rec(2, 'a', 'recording', 400n, 450n, ['y'])];
  const f = { fromRecordingId: 0, maxCount: 0, states: new Set<string>(), fromUtcNs: null, toUtcNs: null, channel: '' };
  const ids = (r: RecordingInfo[]) => r.map((x) => x.recordingId);

  it('filters by name or alias, states, id, count and time overlap', () => {
    expect(ids(filterRecordings(all, { ...f, channel: 'x' }, 1000n))).toEqual([0]);
    expect(ids(filterRecordings(all, { ...f, channel: 'y' }, 1000n))).toEqual([2]);
    expect(ids(filterRecordings(all, { ...f, states: new Set(['recording']) }, 1000n))).toEqual([2]);
    expect(ids(filterRecordings(all, { ...f, fromRecordingId: 1, maxCount: 1 }, 1000n))).toEqual([1]);
    expect(ids(filterRecordings(all, { ...f, fromUtcNs: 201n, toUtcNs: 350n }, 1000n))).toEqual([1]);
    // a live recording extends to now
    expect(ids(filterRecordings(all, { ...f, fromUtcNs: 900n, toUtcNs: 950n }, 1000n))).toEqual([2]);
    expect(ids(filterRecordings(all, { ...f, toUtcNs: 99n }, 1000n))).toEqual([]);
  });

  it('lists channels once with all aliases and the active recording', () => {
    const views = channelViews(all, new Map([['a', 2]]));
    expect(views).toEqual([
      { channel: 'a', aliases: ['x', 'y'], source: 'udp://127.0.0.1:5002', activeRecordingId: 2, recordingCount: 2 },
      { channel: 'b', aliases: [], source: 'udp://127.0.0.1:5001', activeRecordingId: null, recordingCount: 1 },
    ]);
  });
});

describe('control session answer cache', () => {
  it('evicts the oldest answers beyond the byte limit and remembers their ids', () => {
    const s = new ControlSession(1, '127.0.0.1', 1, '127.0.0.1', 1, 1000n, 0n, 't', { maxAnswers: 256, maxBytes: 1000, maxEvictedIds: 2 });
    for (let i = 1n; i <= 6n; i++) s.remember(i, `keepAlive:${i}`, [Buffer.alloc(300)]);
    expect(s.cachedAnswerCount).toBe(3);
    expect(s.cachedAnswerBytes).toBe(900);
    expect(s.lookup(1n, 'keepAlive:1').kind).toBe('new'); // beyond the remembered evicted ids
    expect(s.lookup(2n, 'keepAlive:2').kind).toBe('evicted');
    expect(s.lookup(3n, 'keepAlive:3').kind).toBe('evicted');
    expect(s.lookup(4n, 'keepAlive:4').kind).toBe('answered');
    s.markPending(9n, 'startRecording:9');
    expect(s.lookup(9n, 'startRecording:9').kind).toBe('pending');
    expect(s.isTimedOut(1000n)).toBe(false);
    expect(s.isTimedOut(1001n)).toBe(true);
  });
});
