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
import type { SegmentView, UnavailableState } from '../storage/segment-cache.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiveStore, ClusterStatusInfo, QuarantineInfo, RecordingInfo, RecordingReaderPort, RecordingWriterPort } from './ports.js';
import { WriterBinding, type StorageBinding } from './storage-binding.js';

/** Remote bytes for the segments this node does not hold (the data path's read cache). */
export interface RemoteSegmentsPort {
  /** The cache mapping of (recording, base), fetched in the background from `holders`, starting at `position`. */
  view(recordingId: number, base: number, position: number, holders: string[]): Buffer | undefined;
  corrupt(recordingId: number, base: number, holder: string | undefined): void;
  release(recordingId: number, base: number): void;
}

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
  remote: RemoteSegmentsPort | undefined;
  /** mirror lag per target (the data path's mirror service), for status */
  lag: (() => { node: string; bytes: number; ms: number }[]) | undefined;
  private hiddenCache: { revision: number; byRecording: Map<number, Interval[]> } = { revision: -1, byRecording: new Map() };

  constructor(
    readonly local: StorageBinding,
    readonly node: ClusterNode,
    private readonly segmentLength: number,
  ) {}

  isRecordingHere(recordingId: number): boolean {
    return this.writers.get(recordingId)?.isActive ?? false;
  }

  async createRecording(p: { channel: string; aliases: string[]; source: string; startUtcNs: bigint; startMonoNs: bigint }): Promise<RecordingWriterPort> {
    const n = this.node;
    if (!n.ready) throw new VcrError(ErrorCode.NOT_READY, 'this node has not finished joining the cluster');
    const rec = await n.writes.createRecording(
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
      },
      `${n.nodeId}:${n.incarnation}:${++this.seq}`,
    );
    const w = this.local.archive.createRecording({ ...p, recordingId: rec.recordingId });
    this.writers.set(rec.recordingId, w);
    n.reconciler.track({
      recordingId: rec.recordingId,
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
    return new WriterBinding(w);
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
   * deleted events from the commit on).
   */
  async deleteEvents(channel: string, fromUtcNs: bigint, toUtcNs: bigint): Promise<number> {
    const names = (r: ClusterRecording) => [r.channel, ...r.aliases];
    const recordings = [...this.node.view.recordings.values()].map((v) => v.value).filter((r) => channel === '' || names(r).includes(channel));
    const now = this.node.nowMs();
    const clampedTo = toUtcNs + 1n; // storage intervals are half-open
    const d = await this.node.writes.commitDeletion(
      { ...(channel !== '' ? { channel } : {}), recordings: recordings.map((r) => r.recordingId), fromUtcNs, toUtcNs: clampedTo },
      (h) => h.toUtcNs > fromUtcNs && h.fromUtcNs < clampedTo && (h.channel === undefined || channel === '' || recordings.some((r) => names(r).includes(h.channel!))),
    );
    void now;
    try {
      const r = this.local.archive.deleteEvents({
        ...(d.channel !== undefined ? { channel: d.channel } : {}),
        fromUtcNs: d.fromUtcNs,
        toUtcNs: d.toUtcNs,
        holds: d.holds,
        deletionId: d.deletionId,
      });
      return r.framesDeleted;
    } catch {
      return 0; // the replica manager applies it later; reads filter it already
    }
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
    };
  }

  usage(): { segments: number; bytes: number } {
    return this.local.usage();
  }

  heartbeat(): void {
    this.local.heartbeat();
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

  /** Local bytes where this node records the recording or holds a verified copy; else remote. */
  private segmentSource(r: ClusterRecording): ClusterSegmentSource {
    const id = r.recordingId;
    const local = this.local.archive.segmentSource(id);
    const used = new Set<number>();
    const node = this.node;
    const remote = (): RemoteSegmentsPort | undefined => this.remote;
    const holdersOf = (base: number): string[] => {
      const s = node.view.segment(id, base)?.value;
      if (!s) return [];
      if (s.state === 'open') {
        const owner = node.view.recording(id)?.value.owner.node;
        return owner && owner !== node.nodeId ? [owner, ...s.placement.filter((p) => p !== owner)] : s.placement;
      }
      return node.view
        .liveCopies(s)
        .map((e) => e.node)
        .filter((n) => n !== node.nodeId);
    };
    const isLocal = (base: number): boolean => {
      if (this.writers.get(id)?.isActive) return true;
      const s = node.view.segment(id, base)?.value;
      if (s?.state === 'open') return false;
      return node.replicas.isVerified(id, base);
    };
    const binding = this;
    return {
      segmentLength: r.segmentLength,
      get(base: number): SegmentView {
        if (isLocal(base)) {
          const v = local.get(base);
          if (typeof v !== 'string' || v === 'tombstone') return v;
        }
        const s = node.view.segment(id, base)?.value;
        if (s && s.state === 'sealed' && s.end <= s.base) return 'tombstone'; // sealed empty
        const rm = remote();
        if (!rm) return 'away';
        const buf = rm.view(id, base, base, holdersOf(base));
        if (!buf) return 'away';
        used.add(base);
        return buf;
      },
      unavailable(base: number, state: UnavailableState): VcrError {
        if (state === 'away') return new VcrError(ErrorCode.REPLICA_UNAVAILABLE, `no live node holds segment ${base} of recording ${id}`);
        return local.unavailable(base, state);
      },
      want(base: number, position: number): void {
        if (isLocal(base)) return;
        remote()?.view(id, base, position, holdersOf(base));
      },
      corrupt(base: number): void {
        if (isLocal(base)) {
          node.replicas.suspect(id, base);
          return;
        }
        remote()?.corrupt(id, base, holdersOf(base)[0]);
      },
      close(): void {
        for (const b of used) binding.remote?.release(id, b);
      },
    };
  }
}
