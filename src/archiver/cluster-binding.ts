/**
 * The ArchiveStore port in cluster mode (docs/REPLICATION.md): the archiver's logic talks to
 * this exactly as it talks to the single-node StorageBinding, and this maps each operation onto
 * the cluster — recording ids and descriptors in etcd, listings from the cluster view (the same
 * answer on every node), holds and deletions as etcd metadata, reads of any recording from
 * this node's copies or from a node that holds the bytes, and cluster status from the view.
 *
 * Operations that need etcd return promises; the request handlers defer their answer until
 * they settle. Reads pass the read barrier first (§8), in `prepare()`.
 */
import type { ClusterRecording } from '../cluster/cluster-keys.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { ClusterReader, type ClusterSegmentSource } from '../cluster/cluster-reader.js';
import { hiddenIntervals, type Interval } from '../cluster/deletion-filter.js';
import type { RecordingWriter } from '../storage/recording-writer.js';
import type { SegmentSource, SegmentView, UnavailableState } from '../storage/segment-cache.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiveStore, ClusterStatusInfo, QuarantineInfo, RecordingInfo, RecordingReaderPort, RecordingWriterPort, TimeIndexView } from './ports.js';
import type { ClusterNotifier } from './cluster-notifier.js';
import type { ArchiverCounters } from './archiver-counters.js';
import { ClusterWriter } from './cluster-writer.js';
import { ContinuationMaker, type NewClusterRecording } from './continuation-maker.js';
import type { ContinuationStep } from './continuation-steps.js';
import type { StorageBinding } from './storage-binding.js';

/** Remote bytes for the segments this node does not hold (the data path's read cache, RemoteSegments). */
export interface RemoteSegmentsPort {
  /** The segments of a recording as read from other nodes (a sparse cache filled in the background). */
  source(recordingId: number): SegmentSource;
  /** Starts (or moves) the fetch of (recording, base) so that frames from `position` arrive. */
  ensure(recordingId: number, base: number, position: number): void;
}

const NOTIFY_INTERVAL_MS = 250;
/** below a default client's 3 x 1 s, so the answer is never retried away */
const STOP_PUBLISH_WAIT_MS = 1_500;

function toInfo(r: ClusterRecording): RecordingInfo {
  return {
    recordingId: r.recordingId,
    state: r.state === 'fencing' ? 'recording' : r.state,
    startPosition: r.startPosition,
    stopPosition: r.stopPosition,
    startUtcNs: r.startUtcNs,
    stopUtcNs: r.stopUtcNs,
    startMonoNs: r.startMonoNs,
    stopMonoNs: r.stopMonoNs,
    eventCount: r.eventCount,
    segmentLength: r.segmentLength,
    channel: r.channel,
    aliases: [...r.aliases],
    source: r.source,
  };
}

export class ClusterBinding implements ArchiveStore {
  private seq = 0;
  /** recordings this process writes: id -> writer */
  private readonly writers = new Map<number, RecordingWriter>();
  /** the writers recording sessions append to, by the recording they append to now */
  private readonly sessionWriters = new Map<number, ClusterWriter>();
  /** moves frames past a fenced end into continuation recordings, and finishes those a crash left */
  private readonly continuations: ContinuationMaker;
  remote: RemoteSegmentsPort | undefined;
  /** cluster notifications (node up/down, repair progress), set by the archiver */
  notifier: ClusterNotifier | undefined;
  private nextNotifyMs = 0;
  /** mirror lag per target (the data path's mirror service), for status */
  lag: (() => { node: string; bytes: number; ms: number }[]) | undefined;
  private hiddenCache: { revision: number; byRecording: Map<number, Interval[]> } = { revision: -1, byRecording: new Map() };

  constructor(
    readonly local: StorageBinding,
    readonly node: ClusterNode,
    private readonly segmentLength: number,
    /** UTC now in ns, the clock recorded events are stamped with (deletes are clamped to it) */
    private readonly utcNowNs: () => bigint = () => BigInt(node.nowMs()) * 1_000_000n,
    opts: { counters?: ArchiverCounters; killAt?: ContinuationStep | undefined } = {},
  ) {
    this.continuations = new ContinuationMaker(
      node,
      local.archive,
      {
        writers: this.writers,
        sessionWriters: this.sessionWriters,
        createRecord: (p, continues) => this.createRecord(p, continues),
        track: (w) => this.track(w),
      },
      opts.counters,
      opts.killAt,
    );
    node.reconciler.onFenced = (id) => this.continuations.onFenced(id);
  }

  isRecordingHere(recordingId: number): boolean {
    return (this.writers.get(recordingId)?.isActive ?? false) || this.continuations.isBusy(recordingId);
  }

  async createRecording(p: NewClusterRecording): Promise<RecordingWriterPort> {
    const w = await this.startRecording(p);
    const cw = new ClusterWriter(w);
    this.sessionWriters.set(w.recordingId, cw);
    return cw;
  }

  /** A recording in etcd (ids cluster-wide) and its local writer, published by the reconciler. */
  private async startRecording(p: NewClusterRecording): Promise<RecordingWriter> {
    const rec = await this.createRecord(p);
    const w = this.local.archive.createRecording({ ...p, recordingId: rec.recordingId });
    this.track(w);
    return w;
  }

  /** The etcd record of a new recording owned by this incarnation (its id is the cluster's next). */
  private createRecord(p: NewClusterRecording, continues?: { recordingId: number; position: number }): Promise<ClusterRecording> {
    const n = this.node;
    if (!n.ready) return Promise.reject(new VcrError(ErrorCode.NOT_READY, 'this node has not finished joining the cluster'));
    return n.writes.createRecording(
      {
        channel: p.channel,
        aliases: [...p.aliases],
        source: p.source,
        segmentLength: this.segmentLength,
        state: 'recording',
        owner: { node: n.nodeId, lease: n.incarnation },
        startPosition: 0,
        stopPosition: 0,
        startUtcNs: p.startUtcNs,
        stopUtcNs: p.startUtcNs,
        startMonoNs: p.startMonoNs,
        stopMonoNs: p.startMonoNs,
        eventCount: 0,
        ...(continues ? { continues } : {}),
      },
      `${n.nodeId}:${n.incarnation}:${++this.seq}`,
    );
  }

  /** This process writes the recording: reads use its files, the reconciler publishes what it writes. */
  private track(w: RecordingWriter): void {
    this.writers.set(w.recordingId, w);
    this.node.reconciler.track({
      recordingId: w.recordingId,
      liveBase: () => (w.isActive ? w.segmentBase : undefined),
      progress: () => {
        const d = w.snapshot();
        return { stopPosition: w.position, stopUtcNs: d.stopUtcNs, stopMonoNs: d.stopMonoNs, eventCount: d.eventCount };
      },
      final: () => {
        if (w.isActive) return undefined;
        const d = w.snapshot();
        return { state: d.lifecycle === 'failed' ? 'failed' : 'stopped', stopPosition: d.stopPosition, stopUtcNs: d.stopUtcNs, stopMonoNs: d.stopMonoNs, eventCount: d.eventCount };
      },
    });
  }

  listRecordings(): RecordingInfo[] {
    return [...this.node.view.recordings.values()].map((v) => toInfo(v.value)).sort((a, b) => a.recordingId - b.recordingId);
  }

  describe(recordingId: number): RecordingInfo | undefined {
    const r = this.node.view.recording(recordingId)?.value;
    return r ? toInfo(r) : undefined;
  }

  /** The read barrier (§8): everything etcd committed before the call is in the view. */
  prepare(): Promise<void> {
    if (!this.node.ready) return Promise.reject(new VcrError(ErrorCode.NOT_READY, 'this node has not finished joining the cluster'));
    return this.node.barrier();
  }

  openReader(recordingId: number, position: number, follow: boolean): RecordingReaderPort {
    const r = this.node.view.recording(recordingId)?.value;
    if (!r) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${recordingId}`);
    const end = this.endOf(r);
    if (!Number.isSafeInteger(position) || position < r.startPosition || position > end.position() || position % 8 !== 0) {
      throw new VcrError(ErrorCode.INVALID_POSITION, `position ${position} is not a frame position of recording ${recordingId} (${r.startPosition}..${end.position()})`);
    }
    return new ClusterReader(recordingId, this.segmentSource(r), end, position, undefined, follow, () => this.hidden(r));
  }

  /**
   * Position of the first event at or after utcNs: the segment is found from the segment
   * records' times; within it, a scan (local bytes, or bytes fetched from a holder).
   */
  findPosition(recordingId: number, utcNs: bigint): number | Promise<number> {
    const r = this.node.view.recording(recordingId)?.value;
    if (!r) throw new VcrError(ErrorCode.UNKNOWN_RECORDING, `no recording ${recordingId}`);
    const end = this.endOf(r);
    const segs = this.node.view.segmentsOf(recordingId).map((s) => s.value);
    const seg = segs.find((s) => s.state === 'open' || (s.end > s.base && s.lastUtcNs >= utcNs));
    if (!seg) return end.position();
    const from = Math.max(seg.base, r.startPosition);
    const reader = new ClusterReader(recordingId, this.segmentSource(r), end, from, undefined, false, () => []);
    return new Promise<number>((resolve, reject) => {
      const step = (): void => {
        let found: number | undefined;
        try {
          while (found === undefined) {
            const n = reader.poll((_b, _o, _l, pos, utc) => {
              if (utc >= utcNs && found === undefined) found = pos;
            }, 1);
            if (n === 0) break;
          }
        } catch (err) {
          reader.close();
          reject(err);
          return;
        }
        if (found !== undefined || reader.isDone()) {
          reader.close();
          resolve(found ?? end.position());
          return;
        }
        setTimeout(step, 5);
      };
      step();
    });
  }

  addQuarantine(channel: string, fromUtcNs: bigint, toUtcNs: bigint): Promise<number> {
    return this.node.writes.addHold({ ...(channel !== '' ? { channel } : {}), fromUtcNs, toUtcNs: toUtcNs + 1n });
  }

  async removeQuarantine(quarantineId: number): Promise<void> {
    if (!(await this.node.writes.removeHold(quarantineId))) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `no quarantine ${quarantineId}`);
  }

  listQuarantines(): QuarantineInfo[] {
    return [...this.node.view.holds.values()]
      .map((h) => ({ quarantineId: h.value.holdId, channel: h.value.channel ?? '', fromUtcNs: h.value.fromUtcNs, toUtcNs: h.value.toUtcNs - 1n }))
      .sort((a, b) => a.quarantineId - b.quarantineId);
  }

  /**
   * Commits the deletion in etcd (with the holds that cover it now) and answers the number of
   * events this node's copies lost when it applied it at once (reads everywhere filter the
   * deleted events from the commit on). The interval's end is clamped to this node's UTC now
   * (§8: a delete removes events recorded before it committed, never later ones, whatever its
   * `to` says); a delete that starts after now removes nothing and commits nothing.
   */
  async deleteEvents(channel: string, fromUtcNs: bigint, toUtcNs: bigint): Promise<number> {
    const names = (r: ClusterRecording) => [r.channel, ...r.aliases];
    const recordings = [...this.node.view.recordings.values()].map((v) => v.value).filter((r) => channel === '' || names(r).includes(channel));
    const afterNow = this.utcNowNs() + 1n; // storage intervals are half-open: events stamped up to now
    const clampedTo = toUtcNs + 1n < afterNow ? toUtcNs + 1n : afterNow;
    if (clampedTo <= fromUtcNs) return 0;
    const d = await this.node.writes.commitDeletion(
      { ...(channel !== '' ? { channel } : {}), recordings: recordings.map((r) => r.recordingId), fromUtcNs, toUtcNs: clampedTo },
      (h) => h.toUtcNs > fromUtcNs && h.fromUtcNs < clampedTo && (h.channel === undefined || channel === '' || recordings.some((r) => names(r).includes(h.channel!))),
    );
    try {
      const r = this.local.archive.deleteEvents({
        ...(d.channel !== undefined ? { channel: d.channel } : {}),
        fromUtcNs: d.fromUtcNs,
        toUtcNs: d.toUtcNs,
        holds: d.holds,
        deletionId: d.deletionId,
        recordings: d.recordings,
      });
      return r.framesDeleted;
    } catch {
      return 0; // the replica manager applies it later; reads filter it already
    }
  }

  /**
   * Resolves once the view shows the recording no longer recording (the reconciler published
   * the stop), or after STOP_PUBLISH_WAIT_MS (etcd away: the stop is published when it returns).
   */
  whenStopped(recordingId: number): Promise<void> {
    const deadline = this.node.nowMs() + STOP_PUBLISH_WAIT_MS;
    return new Promise((resolve) => {
      const check = (): void => {
        const r = this.node.view.recording(recordingId)?.value;
        if (!r || (r.state !== 'recording' && r.state !== 'fencing') || this.node.nowMs() > deadline) return resolve();
        setTimeout(check, 10);
      };
      check();
    });
  }

  clusterStatus(): ClusterStatusInfo {
    const h = this.node.health();
    const lag = this.lag?.() ?? [];
    return {
      k: h.k,
      underReplicatedSegments: h.underReplicatedSegments,
      repairing: h.repairing,
      bytesToRepair: h.bytesToRepair,
      nodes: h.nodes.map((n) => {
        const mine = lag.filter((l) => l.node === n.id);
        return {
          ...n,
          lagBytes: mine.reduce((m, l) => Math.max(m, l.bytes), 0),
          lagMs: mine.reduce((m, l) => Math.max(m, l.ms), 0),
        };
      }),
      scrub: { ...this.node.scrubber.stats },
    };
  }

  usage(): { segments: number; bytes: number } {
    return this.local.usage();
  }

  /** This node's time index of the recording (built over the copies it holds): the console's rates. */
  timeIndex(recordingId: number): TimeIndexView | undefined {
    return this.local.timeIndex(recordingId);
  }

  heartbeat(): void {
    this.local.heartbeat();
    this.continuations.scan();
    const now = this.node.nowMs();
    if (this.notifier && this.node.ready && now >= this.nextNotifyMs) {
      this.nextNotifyMs = now + NOTIFY_INTERVAL_MS;
      this.notifier.onStatus(this.clusterStatus(), BigInt(now) * 1_000_000n);
    }
  }

  close(): void {
    this.local.close();
  }

  private endOf(r: ClusterRecording): { position(): number; isLive(): boolean } {
    const id = r.recordingId;
    return {
      position: () => {
        const w = this.writers.get(id);
        if (w?.isActive) return w.position;
        return this.node.view.recording(id)?.value.stopPosition ?? r.stopPosition;
      },
      isLive: () => {
        const w = this.writers.get(id);
        if (w) return w.isActive;
        const cur = this.node.view.recording(id)?.value;
        return cur !== undefined && (cur.state === 'recording' || cur.state === 'fencing');
      },
    };
  }

  /** Events hidden by committed deletions, per recording, rebuilt when the view moves. */
  private hidden(r: ClusterRecording): Interval[] {
    const view = this.node.view;
    if (view.deletions.size === 0) return [];
    if (this.hiddenCache.revision !== view.revision) this.hiddenCache = { revision: view.revision, byRecording: new Map() };
    let h = this.hiddenCache.byRecording.get(r.recordingId);
    if (!h) {
      h = hiddenIntervals(
        [...view.deletions.values()].map((d) => d.value),
        r.recordingId,
        [r.channel, ...r.aliases],
      );
      this.hiddenCache.byRecording.set(r.recordingId, h);
    }
    return h;
  }

  /** The sealed segment's whole [firstUtcNs, lastUtcNs] lies in one interval committed deletions hide. */
  private allHidden(r: ClusterRecording, base: number): boolean {
    const s = this.node.view.segment(r.recordingId, base)?.value;
    if (!s || s.state !== 'sealed' || s.frames === 0) return false;
    const hidden = this.hidden(r);
    return hidden.some(([from, to]) => from <= s.firstUtcNs && s.lastUtcNs < to);
  }

  /** Local bytes where this node records the recording or holds a verified copy; else remote. */
  private segmentSource(r: ClusterRecording): ClusterSegmentSource {
    const id = r.recordingId;
    const local = this.local.archive.segmentSource(id);
    const node = this.node;
    const remote = this.remote?.source(id);
    const isLocal = (base: number): boolean => {
      // what this process wrote is read from its own files (until the recorder drops a surplus copy:
      // the local source then answers 'away' and the read goes to a holder)
      if (this.writers.has(id)) return true;
      const s = node.view.segment(id, base)?.value;
      if (s?.state === 'open') return false;
      return node.replicas.isVerified(id, base);
    };
    return {
      segmentLength: r.segmentLength,
      get: (base: number): SegmentView => {
        // every event of the sealed segment is hidden by committed deletions: nothing to read or fetch
        // (its holders have made it, or will make it, a tombstone)
        if (this.allHidden(r, base)) return 'tombstone';
        if (isLocal(base)) {
          const v = local.get(base);
          if (typeof v !== 'string' || v === 'tombstone') return v;
        }
        const s = node.view.segment(id, base)?.value;
        if (s && s.state === 'sealed' && s.end <= s.base) return 'tombstone'; // sealed empty
        return remote ? remote.get(base) : 'away';
      },
      unavailable: (base: number, state: UnavailableState): VcrError => {
        if (remote && !isLocal(base)) return remote.unavailable(base, state);
        if (state === 'away') return new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `no live node holds segment ${base} of recording ${id}`);
        return local.unavailable(base, state);
      },
      want: (base: number, position: number): void => {
        if (!isLocal(base)) this.remote?.ensure(id, base, position);
      },
      corrupt: (base: number): void => {
        // fetched frames are CRC-checked before they enter the cache: a bad one here is a local copy
        if (isLocal(base)) node.replicas.suspect(id, base);
      },
      sealedEnd: (base: number): number | undefined => {
        const s = node.view.segment(id, base)?.value;
        return s?.state === 'sealed' ? s.end : undefined;
      },
      close: (): void => undefined,
    };
  }

}
