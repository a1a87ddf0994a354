/**
 * In-process "nodes" for the data-path tests: each an Archive in a temp directory, a real
 * PeerNetwork on a loopback port and a ReplicationAgent, with its own ClusterView loaded from
 * key-values (no etcd: the data path only reads the view). A node's dependencies are played
 * the way the lead's ClusterNode plays them: the recorder's live writers give the open
 * segments, the view gives placements and holders, descriptors are installed from the view.
 *
 * `TestCluster.run(cond)` steps every node's duty cycle (network, agent, archive) and yields to
 * the event loop (socket I/O) between steps until `cond` holds: no fixed sleeps.
 */
import { createHash } from 'node:crypto';
import { Archive, type SegmentSummary } from '../../../src/storage/archive.js';
import type { RecordingWriter } from '../../../src/storage/recording-writer.js';
import type { RecordingDescriptor, SealedSegment } from '../../../src/storage/types.js';
import { KEY, encodeValue, type ClusterRecording, type ClusterSegment } from '../../../src/cluster/cluster-keys.js';
import { ClusterView } from '../../../src/cluster/cluster-view.js';
import type { KeyValue } from '../../../src/cluster/etcd-store.js';
import { PeerNetwork } from '../../../src/cluster/peer-network.js';
import { ReplicationAgent, type ReplicationOptions } from '../../../src/cluster/replication/replication-agent.js';
import type { VcrError } from '../../../src/util/errors.js';
import { tempDir } from '../../helpers/wait.js';
import { freeTcpPort } from '../support/etcd-process.js';

export const SEG = 256 * 1024;

/** Key-values of a cluster keyspace, with revisions that only grow. */
export class Keyspace {
  revision = 1;
  readonly kvs = new Map<string, KeyValue>();

  put(key: string, value: object | string, lease = '0'): number {
    this.revision++;
    const had = this.kvs.get(key);
    this.kvs.set(key, {
      key,
      value: typeof value === 'string' ? value : encodeValue(value),
      createRevision: had?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (had?.version ?? 0) + 1,
      lease,
    });
    return this.revision;
  }

  get(key: string): KeyValue | undefined {
    return this.kvs.get(key);
  }

  list(): KeyValue[] {
    return [...this.kvs.values()];
  }
}

export interface NodeEvents {
  copied: { recordingId: number; base: number; summary: SegmentSummary }[];
  corrupt: { recordingId: number; base: number; error: VcrError }[];
}

export class TestNode {
  network!: PeerNetwork;
  agent!: ReplicationAgent;
  readonly view = new ClusterView();
  readonly events: NodeEvents = { copied: [], corrupt: [] };
  readonly sealed: SealedSegment[] = [];
  /** extra milliseconds on this node's clock (tests step time instead of sleeping) */
  clockOffsetMs = 0;
  /** the placement the recorder uses while the view has no record of a segment (etcd down, or a test that writes none) */
  defaultPlacement: string[] | undefined;
  /** when false this node's duty cycle does not run (a slow or stopped node) */
  running = true;
  archive: Archive;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly port: number,
    readonly lease: string,
    readonly disk: string,
    private readonly peers: { id: string; replication: string }[],
    readonly options: ReplicationOptions,
    segmentLength = SEG,
  ) {
    this.archive = Archive.open(dir, { segmentLength, onSegmentSealed: (s) => this.sealed.push(s) });
  }

  nowMs(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Starts (or restarts) the data path: a new network and agent over the same directory. */
  async start(): Promise<void> {
    this.network = new PeerNetwork(
      { cluster: 'test', node: this.id, disk: () => this.disk, incarnation: () => this.lease, viewRevision: () => this.view.revision },
      `127.0.0.1:${this.port}`,
      this.peers,
    );
    this.network.onError = (err) => {
      throw err;
    };
    await this.network.listen();
    this.agent = new ReplicationAgent(
      { self: this.id, disk: () => this.disk, incarnation: () => this.lease, view: this.view, archive: this.archive, network: this.network, dir: this.dir, nowMs: () => this.nowMs(), log: quietLog },
      {
        localOpenSegments: () =>
          this.archive.listRecordings({ lifecycle: 'recording' }).flatMap((d) => {
            const o = this.archive.openSegmentInfo(d.recordingId);
            return o ? [{ recordingId: d.recordingId, ...o }] : [];
          }),
        placementOf: (r, base) => this.view.segment(r, base)?.value.placement ?? this.defaultPlacement,
        ensureDescriptor: (r) => this.ensureDescriptor(r),
        onCopied: (recordingId, base, summary) => this.events.copied.push({ recordingId, base, summary }),
        onCorrupt: (recordingId, base, error) => this.events.corrupt.push({ recordingId, base, error }),
        canServe: (r, base) => this.holds(r, base),
        hasLocalCopy: (r, base) => this.holds(r, base),
        holdersOf: (r, base) => {
          const s = this.view.segment(r, base)?.value;
          if (s && s.state === 'sealed') return this.view.liveCopies(s).map((e) => e.node).filter((n) => n !== this.id);
          const owner = this.view.recording(r)?.value.owner.node;
          return owner && owner !== this.id ? [owner] : [];
        },
      },
      this.options,
    );
  }

  /** Stops the data path (network and agent); the archive stays open. */
  stop(): void {
    this.agent.close();
    this.network.close();
  }

  step(): number {
    if (!this.running) return 0;
    return this.network.doWork() + this.agent.doWork() + this.archive.doWork();
  }

  /** This node has the segment in its archive (present). */
  holds(recordingId: number, base: number): boolean {
    try {
      return this.archive.listSegments(recordingId).some((s) => s.base === base && s.state === 'present');
    } catch {
      return false;
    }
  }

  /** The descriptor of a recording made elsewhere, from the view (its end covering every sealed segment). */
  ensureDescriptor(recordingId: number): void {
    const r = this.view.recording(recordingId)!.value;
    let stop = r.stopPosition;
    for (const s of this.view.segmentsOf(recordingId)) if (s.value.state === 'sealed') stop = Math.max(stop, s.value.end);
    try {
      const d = this.archive.describe(recordingId);
      if (d.stopPosition >= stop) return;
    } catch {
      // not known here yet
    }
    const d: RecordingDescriptor = {
      recordingId,
      state: 'valid',
      lifecycle: r.state === 'recording' || r.state === 'fencing' ? 'recording' : 'stopped',
      failureCode: 0,
      startPosition: r.startPosition,
      stopPosition: stop,
      startUtcNs: r.startUtcNs,
      stopUtcNs: r.stopUtcNs,
      startMonoNs: r.startMonoNs,
      stopMonoNs: r.stopMonoNs,
      eventCount: r.eventCount,
      segmentLength: r.segmentLength,
      cleanStop: r.state === 'stopped',
      channel: r.channel,
      aliases: r.aliases,
      source: r.source,
    };
    this.archive.installDescriptor(d);
  }

  close(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    this.archive.close();
  }
}

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class TestCluster {
  readonly keys = new Keyspace();
  private constructor(readonly nodes: TestNode[]) {}

  static async start(ids: string[], options: Partial<ReplicationOptions> = {}, segmentLength = SEG, perNode: Record<string, Partial<ReplicationOptions>> = {}): Promise<TestCluster> {
    const ports = await Promise.all(ids.map(() => freeTcpPort()));
    const peers = ids.map((id, i) => ({ id, replication: `127.0.0.1:${ports[i]}` }));
    const nodes = ids.map(
      (id, i) => new TestNode(id, tempDir(`vcr-repl-${id}-`), ports[i]!, `${id}-lease-1`, `${id}-disk`, peers, { repairBytesPerSec: 1 << 30, ...options, ...perNode[id] }, segmentLength),
    );
    for (const n of nodes) await n.start();
    const c = new TestCluster(nodes);
    for (const n of nodes) c.keys.put(KEY.member(n.id), member(n), n.lease);
    c.publish();
    return c;
  }

  node(id: string): TestNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  /** Loads the keyspace into the views of `only` (default: every node). */
  publish(only: TestNode[] = this.nodes): void {
    for (const n of only) n.view.load(this.keys.list(), this.keys.revision);
  }

  /** Steps every node and yields to I/O until `cond` holds; throws after `timeoutMs`. */
  async run<T>(what: string, cond: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const n of this.nodes) n.step();
      const v = cond();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Runs every node's duty cycle for `cycles` turns of the event loop (lets in-flight messages land). */
  async settle(cycles = 50): Promise<void> {
    for (let i = 0; i < cycles; i++) {
      for (const n of this.nodes) n.step();
      await new Promise((r) => setImmediate(r));
    }
  }

  close(): void {
    for (const n of this.nodes) n.close();
  }

  // ---- keyspace helpers -------------------------------------------------------------

  /** r/R recorded by `owner` (its current lease), from the recorder's local descriptor. */
  putRecording(owner: TestNode, recordingId: number, patch: Partial<ClusterRecording> = {}): number {
    const d = owner.archive.describe(recordingId);
    const r: ClusterRecording = {
      recordingId,
      channel: d.channel,
      aliases: d.aliases,
      source: d.source,
      segmentLength: d.segmentLength,
      state: 'recording',
      owner: { node: owner.id, lease: owner.lease },
      startPosition: d.startPosition,
      stopPosition: d.stopPosition,
      startUtcNs: d.startUtcNs,
      stopUtcNs: d.stopUtcNs,
      startMonoNs: d.startMonoNs,
      stopMonoNs: d.stopMonoNs,
      eventCount: d.eventCount,
      ...patch,
    };
    return this.keys.put(KEY.recording(recordingId), r);
  }

  putSegment(s: Partial<ClusterSegment> & { recordingId: number; base: number }): number {
    const v: ClusterSegment = { state: 'open', placement: [], replicas: [], end: s.base, frames: 0, digest: '', firstUtcNs: 0n, lastUtcNs: 0n, ...s };
    return this.keys.put(KEY.segment(s.recordingId, s.base), v);
  }

  /** The recorder's seal of (R, base) as its reconciler would write it (recorder's own copy in the replica set). */
  putSealed(recorder: TestNode, seal: SealedSegment, placement: string[], replicas: TestNode[] = [recorder]): number {
    return this.putSegment({
      recordingId: seal.recordingId,
      base: seal.base,
      state: 'sealed',
      placement,
      replicas: replicas.map((n) => ({ node: n.id, disk: n.disk })),
      end: seal.end,
      frames: seal.frames,
      digest: seal.digest,
      firstUtcNs: seal.firstUtcNs,
      lastUtcNs: seal.lastUtcNs,
    });
  }
}

function member(n: TestNode): object {
  return { node: n.id, disk: n.disk, lease: n.lease, pid: process.pid, control: '', replication: `127.0.0.1:${n.port}`, ready: true, startedAtMs: 0 };
}

/** Event i: deterministic bytes of a varying length (1..maxLength). */
export function eventBytes(i: number, maxLength = 200): Buffer {
  const len = 1 + ((i * 7919) % maxLength);
  const b = Buffer.alloc(len);
  for (let k = 0; k < len; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** UTC of event i: 10 µs apart. */
export function utcOf(i: number): bigint {
  return 1_000_000_000_000_000n + BigInt(i) * 10_000n;
}

/** Appends events [from, to) (UTC `utcOf(i)`) and commits. */
export function record(node: TestNode, w: RecordingWriter, from: number, to: number, maxLength = 200): void {
  for (let i = from; i < to; i++) {
    const b = eventBytes(i, maxLength);
    w.append(b, 0, b.length, utcOf(i), BigInt(i));
  }
  node.archive.doWork();
}

/** Every event of recording R in `archive` (payload and UTC), read locally (from `position` for `length` bytes when given). */
export function readAll(archive: Archive, recordingId: number, opts: { position?: number; length?: number } = {}): { utcNs: bigint; payload: Buffer; position: number }[] {
  const out: { utcNs: bigint; payload: Buffer; position: number }[] = [];
  const reader = archive.openReader(recordingId, opts);
  while (!reader.isDone()) {
    const n = reader.poll((b, o, l, p, u) => out.push({ utcNs: u, payload: Buffer.from(b.subarray(o, o + l)), position: p }), 10_000);
    if (n === 0 && !reader.isDone()) break;
  }
  return out;
}

/** A short, comparable account of events: how many, and a hash of their positions, times and payloads. */
export function fingerprint(events: { utcNs: bigint; payload: Buffer; position: number }[]): { count: number; hash: string; first?: bigint; last?: bigint } {
  const h = createHash('sha256');
  for (const e of events) {
    h.update(`${e.position}/${e.utcNs}/`);
    h.update(e.payload);
  }
  return { count: events.length, hash: h.digest('hex'), first: events[0]?.utcNs, last: events.at(-1)?.utcNs };
}

/** Settles a promise into a value the duty-cycle loop can poll. */
export function track<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const t: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (v) => Object.assign(t, { value: v, done: true }),
    (e: unknown) => Object.assign(t, { error: e, done: true }),
  );
  return t;
}
