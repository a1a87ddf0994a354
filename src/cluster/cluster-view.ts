/**
 * A node's in-memory mirror of the cluster keyspace (docs/REPLICATION.md §3): members,
 * recordings, segments, holds, deletions and counters, each with the mod revision it was read
 * at (what a compare-and-swap compares). Pure data: `ViewSync` feeds it a listing and then
 * watch events, in revision order, on the duty cycle; everything that decides reads it.
 *
 * A value that does not parse is counted and ignored (the previous value stays), so a bad
 * write by hand in etcd cannot crash a node.
 */
import {
  decodeValue,
  isValidRecording,
  isValidSegment,
  parseKey,
  type ClusterDeletion,
  type CoordValue,
  type ClusterHold,
  type ClusterRecording,
  type ClusterSegment,
  type MemberValue,
  type ReplicaEntry,
} from './cluster-keys.js';
import type { KeyValue, WatchEvent } from './etcd-store.js';

export interface Versioned<T> {
  value: T;
  modRevision: number;
  createRevision: number;
}

export interface MemberEntry extends Versioned<MemberValue> {
  /** lease id the key is attached to (the incarnation etcd knows) */
  lease: string;
}

export type ViewChange =
  | { kind: 'member'; node: string; before?: MemberEntry; after?: MemberEntry }
  | { kind: 'recording'; recordingId: number; before?: ClusterRecording; after?: ClusterRecording }
  | { kind: 'segment'; recordingId: number; base: number; before?: ClusterSegment; after?: ClusterSegment }
  | { kind: 'hold'; holdId: number; after?: ClusterHold }
  | { kind: 'deletion'; deletionId: number; after?: ClusterDeletion }
  | { kind: 'counter'; name: string }
  | { kind: 'coord' };

export class ClusterView {
  revision = 0;
  readonly members = new Map<string, MemberEntry>();
  readonly recordings = new Map<number, Versioned<ClusterRecording>>();
  /** recordingId -> base -> segment */
  readonly segments = new Map<number, Map<number, Versioned<ClusterSegment>>>();
  readonly holds = new Map<number, Versioned<ClusterHold>>();
  readonly deletions = new Map<number, Versioned<ClusterDeletion>>();
  readonly counters = new Map<string, Versioned<string>>();
  /** the coordinator key (its create revision is the coordinator's token) */
  coord: (Versioned<CoordValue> & { lease: string }) | undefined;
  /** nodes the coordinator saw down: node -> since (ms) */
  readonly down = new Map<string, Versioned<{ sinceMs: number }>>();
  /** nodes still within grace (the key lives on a lease of TTL graceMs) */
  readonly grace = new Set<string>();
  badValues = 0;
  private listeners: ((c: ViewChange) => void)[] = [];

  onChange(listener: (c: ViewChange) => void): void {
    this.listeners.push(listener);
  }

  /** Replaces everything with a listing taken at `revision`. */
  load(kvs: KeyValue[], revision: number): void {
    const before = { members: [...this.members.keys()], recordings: [...this.recordings.keys()] };
    this.members.clear();
    this.recordings.clear();
    this.segments.clear();
    this.holds.clear();
    this.deletions.clear();
    this.counters.clear();
    this.coord = undefined;
    this.down.clear();
    this.grace.clear();
    for (const kv of kvs) this.put(kv, false);
    this.revision = revision;
    for (const node of before.members) if (!this.members.has(node)) this.emit({ kind: 'member', node });
    for (const node of this.members.keys()) this.emit({ kind: 'member', node, after: this.members.get(node)! });
    for (const id of before.recordings) if (!this.recordings.has(id)) this.emit({ kind: 'recording', recordingId: id });
    for (const [id, r] of this.recordings) this.emit({ kind: 'recording', recordingId: id, after: r.value });
  }

  /** Applies watch events (in revision order) and moves the view to `revision`. */
  apply(events: WatchEvent[], revision: number): void {
    for (const e of events) {
      if (e.kv.modRevision <= this.revision && e.type === 'put') continue; // already in the listing
      if (e.type === 'put') this.put(e.kv, true);
      else this.remove(e.kv.key);
    }
    if (revision > this.revision) this.revision = revision;
  }

  member(node: string): MemberEntry | undefined {
    return this.members.get(node);
  }

  isUp(node: string): boolean {
    return this.members.has(node);
  }

  isReady(node: string): boolean {
    return this.members.get(node)?.value.ready === true;
  }

  /** A replica entry counts: its node is up and ready, on the disk the entry names. */
  isLiveCopy(e: ReplicaEntry): boolean {
    const m = this.members.get(e.node);
    return m !== undefined && m.value.ready === true && m.value.disk === e.disk;
  }

  liveCopies(s: ClusterSegment): ReplicaEntry[] {
    return s.replicas.filter((e) => this.isLiveCopy(e));
  }

  upNodes(): string[] {
    return [...this.members.keys()].sort();
  }

  recording(id: number): Versioned<ClusterRecording> | undefined {
    return this.recordings.get(id);
  }

  segment(recordingId: number, base: number): Versioned<ClusterSegment> | undefined {
    return this.segments.get(recordingId)?.get(base);
  }

  /** Segments of a recording in base order. */
  segmentsOf(recordingId: number): Versioned<ClusterSegment>[] {
    const m = this.segments.get(recordingId);
    if (!m) return [];
    return [...m.values()].sort((a, b) => a.value.base - b.value.base);
  }

  *allSegments(): IterableIterator<Versioned<ClusterSegment>> {
    for (const m of this.segments.values()) yield* m.values();
  }

  counter(name: string): Versioned<string> | undefined {
    return this.counters.get(name);
  }

  private put(kv: KeyValue, notify: boolean): void {
    const k = parseKey(kv.key);
    const meta = { modRevision: kv.modRevision, createRevision: kv.createRevision };
    switch (k.kind) {
      case 'member': {
        const v = decodeValue<MemberValue>(kv.value);
        if (!v || typeof v.node !== 'string') return this.bad();
        const before = this.members.get(k.node);
        const after: MemberEntry = { value: v, lease: kv.lease, ...meta };
        this.members.set(k.node, after);
        if (notify) this.emit({ kind: 'member', node: k.node, ...(before ? { before } : {}), after });
        return;
      }
      case 'recording': {
        const v = decodeValue<ClusterRecording>(kv.value);
        if (!isValidRecording(v)) return this.bad();
        const before = this.recordings.get(k.recordingId)?.value;
        this.recordings.set(k.recordingId, { value: v, ...meta });
        if (notify) this.emit({ kind: 'recording', recordingId: k.recordingId, ...(before ? { before } : {}), after: v });
        return;
      }
      case 'segment': {
        const v = decodeValue<ClusterSegment>(kv.value);
        if (!isValidSegment(v)) return this.bad();
        let m = this.segments.get(k.recordingId);
        if (!m) this.segments.set(k.recordingId, (m = new Map()));
        const before = m.get(k.base)?.value;
        m.set(k.base, { value: v, ...meta });
        if (notify) this.emit({ kind: 'segment', recordingId: k.recordingId, base: k.base, ...(before ? { before } : {}), after: v });
        return;
      }
      case 'hold': {
        const v = decodeValue<ClusterHold>(kv.value);
        if (!v || typeof v.fromUtcNs !== 'bigint' || typeof v.toUtcNs !== 'bigint') return this.bad();
        this.holds.set(k.holdId, { value: { ...v, holdId: k.holdId }, ...meta });
        if (notify) this.emit({ kind: 'hold', holdId: k.holdId, after: v });
        return;
      }
      case 'deletion': {
        const v = decodeValue<ClusterDeletion>(kv.value);
        if (!v || typeof v.fromUtcNs !== 'bigint' || typeof v.toUtcNs !== 'bigint' || !Array.isArray(v.holds)) return this.bad();
        this.deletions.set(k.deletionId, { value: { ...v, deletionId: k.deletionId }, ...meta });
        if (notify) this.emit({ kind: 'deletion', deletionId: k.deletionId, after: v });
        return;
      }
      case 'counter':
        this.counters.set(k.name, { value: kv.value, ...meta });
        if (notify) this.emit({ kind: 'counter', name: k.name });
        return;
      case 'coord': {
        const v = decodeValue<CoordValue>(kv.value);
        if (!v || typeof v.node !== 'string') return this.bad();
        this.coord = { value: v, lease: kv.lease, ...meta };
        if (notify) this.emit({ kind: 'coord' });
        return;
      }
      case 'down': {
        const v = decodeValue<{ sinceMs: number }>(kv.value);
        if (!v) return this.bad();
        this.down.set(k.node, { value: v, ...meta });
        return;
      }
      case 'grace':
        this.grace.add(k.node);
        return;
      default:
        return;
    }
  }

  /** The coordinator saw `node` down and its grace lease has expired. */
  isDownPastGrace(node: string): boolean {
    return !this.members.has(node) && this.down.has(node) && !this.grace.has(node);
  }

  private remove(key: string): void {
    const k = parseKey(key);
    switch (k.kind) {
      case 'member': {
        const before = this.members.get(k.node);
        this.members.delete(k.node);
        if (before) this.emit({ kind: 'member', node: k.node, before });
        return;
      }
      case 'recording': {
        const before = this.recordings.get(k.recordingId)?.value;
        this.recordings.delete(k.recordingId);
        if (before) this.emit({ kind: 'recording', recordingId: k.recordingId, before });
        return;
      }
      case 'segment': {
        const m = this.segments.get(k.recordingId);
        const before = m?.get(k.base)?.value;
        m?.delete(k.base);
        if (m && m.size === 0) this.segments.delete(k.recordingId);
        if (before) this.emit({ kind: 'segment', recordingId: k.recordingId, base: k.base, before });
        return;
      }
      case 'hold':
        this.holds.delete(k.holdId);
        this.emit({ kind: 'hold', holdId: k.holdId });
        return;
      case 'deletion':
        this.deletions.delete(k.deletionId);
        this.emit({ kind: 'deletion', deletionId: k.deletionId });
        return;
      case 'counter':
        this.counters.delete(k.name);
        return;
      case 'coord':
        this.coord = undefined;
        this.emit({ kind: 'coord' });
        return;
      case 'down':
        this.down.delete(k.node);
        return;
      case 'grace':
        this.grace.delete(k.node);
        return;
      default:
        return;
    }
  }

  private bad(): void {
    this.badValues++;
  }

  private emit(c: ViewChange): void {
    for (const l of this.listeners) l(c);
  }
}
