/**
 * Checks shared by the partition tests: a sampler of etcd's segment records for invariant 5
 * (a copy leaves a replica set only while K others exist), reads of a recording from every node
 * that is up, and a dump of the cluster's records and logs when a wait fails.
 */
import { decodeValue, type ClusterSegment } from '../../../src/cluster/cluster-keys.js';
import type { Cluster } from './cluster-harness.js';
import { PREFIX, payloadsOf, recordings, segments } from './cluster-checks.js';

/**
 * Watches every segment record in etcd (directly, not through a proxy) and remembers each
 * sealed, non-empty segment that once had K replica entries and later had fewer: a copy left
 * below K. Nodes are never killed in these tests, so no entry should ever go without another.
 */
export class NeverBelowK {
  readonly violations: string[] = [];
  private readonly reachedK = new Set<string>();
  /** placements seen per segment, in order (a new entry each time it changed) */
  readonly placements = new Map<string, string[]>();
  /** every record seen per segment: state, placement and replica entries, in watch order */
  readonly history = new Map<string, string[]>();
  private closeWatch: (() => Promise<void>) | undefined;

  private constructor(
    private readonly c: Cluster,
    private readonly k: number,
  ) {}

  static start(c: Cluster, k: number): NeverBelowK {
    const s = new NeverBelowK(c, k);
    s.ready = s.watch();
    return s;
  }

  ready: Promise<void> = Promise.resolve();

  private async watch(): Promise<void> {
    const etcd = this.c.etcd.client();
    const w = await etcd.watch().prefix(`${PREFIX}s/`).create();
    w.on('put', (kv) => this.see(decodeValue<ClusterSegment>(kv.value.toString())!));
    w.on('error', () => undefined);
    this.closeWatch = async () => {
      await w.cancel();
      etcd.close();
    };
  }

  private see(s: ClusterSegment): void {
    const key = `${s.recordingId}/${s.base}`;
    const h = this.history.get(key) ?? [];
    h.push(`${s.state}@${s.end} placed ${s.placement.join(',')} held ${s.replicas.map((e) => `${e.node}:${e.disk.slice(0, 4)}`).join(',')}`);
    this.history.set(key, h);
    const p = this.placements.get(key) ?? [];
    const now = [...s.placement].sort().join(',');
    if (p[p.length - 1] !== now) p.push(now);
    this.placements.set(key, p);
    if (s.state !== 'sealed' || s.end <= s.base) return;
    const n = new Set(s.replicas.map((e) => e.node)).size;
    if (n >= this.k) this.reachedK.add(key);
    else if (this.reachedK.has(key)) this.violations.push(`${key}: ${n} copies (${s.replicas.map((e) => e.node).join(',')}) after it had ${this.k}`);
  }

  /** Segments whose placement changed more than `max` times, with their placements in order. */
  flapping(max: number): string[] {
    return [...this.placements].filter(([, p]) => p.length - 1 > max).map(([k, p]) => `${k}: ${p.join(' -> ')}`);
  }

  /** Fails when a copy ever left a segment below K. */
  async check(): Promise<void> {
    await this.ready;
    if (this.violations.length > 0) {
      for (const v of this.violations) console.log('HISTORY', v, JSON.stringify(this.history.get(v.split(':')[0]!), null, 1));
      await dumpCluster(this.c);
      throw new Error(`invariant 5 broken: ${this.violations.join('; ')}`);
    }
  }

  async stop(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.closeWatch?.();
  }
}

/** Every payload of a recording, as each node that is up serves it. */
export async function readEverywhere(c: Cluster, recordingId: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const n of c.up()) {
    const client = await n.client();
    try {
      out.set(n.id, await payloadsOf(client, recordingId));
    } finally {
      await client.close();
    }
  }
  return out;
}

export async function dumpCluster(c: Cluster): Promise<void> {
  const recs = (await recordings(c)).map((r) => [r.recordingId, r.state, r.owner, r.stopPosition, r.continues]);
  const segs = (await segments(c)).map((x) => [x.recordingId, x.base, x.state, x.end, x.placement, x.replicas.map((r) => r.node)]);
  console.log('RECORDINGS', JSON.stringify(recs), '\nSEGMENTS', JSON.stringify(segs));
  for (const n of c.nodes) console.log('LOG', n.id, n.log.split('\n').filter((l) => !l.includes('control session')).slice(-Number(process.env.VCR_DUMP_LINES ?? 40)).join('\n'));
}

/** The decoded value of a cluster key (relative to the cluster prefix), read directly from etcd. */
export async function etcdValue(c: Cluster, key: string): Promise<unknown> {
  const etcd = c.etcd.client();
  try {
    const v = await etcd.get(`${PREFIX}${key}`).string();
    return v === null ? undefined : decodeValue<unknown>(v);
  } finally {
    etcd.close();
  }
}
