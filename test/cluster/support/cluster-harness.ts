/**
 * Real clusters for the fault tests (docs/REPLICATION.md §10): one real etcd and N real
 * `vcr archiver --cluster FILE --node ID` processes on free loopback ports, each in its own
 * temporary directory. Nodes are killed with SIGKILL, paused with SIGSTOP, wiped and
 * restarted; every check talks to the nodes through the real client library, from every node
 * that is up.
 *
 * With `proxied: true` the links between live processes can be cut (`Links`): node i uses the
 * loopback address 127.0.0.(i+1) for its replication endpoint (it listens on a real port there,
 * `replicationListen`, and advertises a LinkProxy in front of it, `replication`), and each node
 * gets its own copy of the cluster file whose `etcd` entry is a LinkProxy of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveClient } from '../../../src/client/archive-client.js';
import { repoRoot, vcrBin } from '../../helpers/cli.js';
import { tempDir, until } from '../../helpers/wait.js';
import { EtcdProcess, freeTcpPort } from './etcd-process.js';
import { freePortOn, LinkProxy, type CutMode } from './link-proxy.js';

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface ClusterOptions {
  n: number;
  k: number;
  graceMs?: number;
  leaseTtlMs?: number;
  repairBytesPerSec?: number;
  /** more cluster file keys (scrubIntervalMs etc.) */
  clusterKeys?: Record<string, unknown>;
  /** the cluster file's maxLagMs (it shortens the verify deadline: graceMs + maxLagMs + copy time) */
  maxLagMs?: number;
  /** archiver config document written beside the cluster file (segmentLength etc.) */
  config?: Record<string, unknown>;
  /** put a LinkProxy in front of every replication endpoint and of etcd for every node (`Cluster.links`) */
  proxied?: boolean;
  /** extra environment per node id (test hooks such as VCR_CONTINUATION_KILL_AT); `NodeProcess.env` later */
  env?: Record<string, Record<string, string>>;
}

/** The proxies of a `proxied` cluster: cut and heal links between live processes. */
export class Links {
  constructor(
    /** node id -> the proxy in front of its replication server */
    readonly replication: Map<string, LinkProxy>,
    /** node id -> the proxy between it and etcd */
    readonly etcd: Map<string, LinkProxy>,
  ) {}

  /** Cuts the links between nodes `a` and `b`, both directions. */
  cutPeers(a: string, b: string, mode: CutMode): void {
    this.replication.get(a)!.cut(mode, [b]);
    this.replication.get(b)!.cut(mode, [a]);
  }

  /** Cuts node `id` from etcd only (its peers still reach it and it reaches them). */
  cutEtcd(id: string, mode: CutMode): void {
    this.etcd.get(id)!.cut(mode);
  }

  /** Cuts node `id` from everyone: every peer both ways, and etcd. */
  isolate(id: string, mode: CutMode): void {
    for (const other of this.replication.keys()) if (other !== id) this.cutPeers(id, other, mode);
    this.cutEtcd(id, mode);
  }

  healAll(): void {
    for (const p of [...this.replication.values(), ...this.etcd.values()]) p.heal();
  }

  async close(): Promise<void> {
    for (const p of [...this.replication.values(), ...this.etcd.values()]) await p.close();
  }
}

export class NodeProcess {
  child: ChildProcess | undefined;
  log = '';
  exited: Promise<number | null> = Promise.resolve(null);
  /** extra environment of the next `start()` */
  env: Record<string, string> = {};

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly control: string,
    readonly replication: string,
    private readonly clusterFile: string,
    private readonly configFile: string,
  ) {}

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process; resolves once it answers a control session (not necessarily ready). */
  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [vcrBin, 'archiver', '--dir', this.dir, '--cluster', this.clusterFile, '--node', this.id, '--control', this.control, '--config', this.configFile],
      { cwd: repoRoot, env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-50_000)));
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    await until(
      `node ${this.id} to answer`,
      async () => {
        if (!this.running) throw new Error(`node ${this.id} exited: ${this.log.slice(-3000)}`);
        const c = await ArchiveClient.connect({ archiver: this.control, timeoutMs: 300, attempts: 1 });
        await c.close();
        return true;
      },
      30_000,
      100,
    );
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: a clean stop (recordings stopped, lease revoked). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGTERM');
    await this.exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Removes the archive directory's contents (the node must be stopped). */
  wipe(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  async client(): Promise<ArchiveClient> {
    return ArchiveClient.connect({ archiver: this.control, timeoutMs: 1000, attempts: 3 });
  }
}

export class Cluster {
  readonly nodes: NodeProcess[] = [];
  /** the link proxies of a `proxied` cluster */
  links: Links | undefined;

  private constructor(
    readonly etcd: EtcdProcess,
    readonly file: string,
  ) {}

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const etcd = await EtcdProcess.start();
    const root = tempDir('vcr-cluster-');
    const ids = Array.from({ length: opts.n }, (_, i) => String.fromCharCode(97 + i));
    const nodes: { id: string; control: string; replication: string; replicationListen?: string }[] = [];
    const replicationProxies = new Map<string, LinkProxy>();
    const etcdProxies = new Map<string, LinkProxy>();
    const sources = new Map(ids.map((id, i) => [`127.0.0.${i + 1}`, id]));
    for (const [i, id] of ids.entries()) {
      const control = `127.0.0.1:${await freeUdpPort()}`;
      if (!opts.proxied) {
        nodes.push({ id, control, replication: `127.0.0.1:${await freeTcpPort()}` });
        continue;
      }
      const host = `127.0.0.${i + 1}`;
      const listen = `${host}:${await freePortOn(host)}`;
      const proxy = await LinkProxy.start(`replication of ${id}`, host, 0, listen, sources);
      replicationProxies.set(id, proxy);
      etcdProxies.set(id, await LinkProxy.start(`etcd for ${id}`, '127.0.0.1', 0, etcd.endpoint));
      nodes.push({ id, control, replication: proxy.endpoint, replicationListen: listen });
    }
    const doc = {
      name: 'test',
      k: opts.k,
      etcd: [etcd.endpoint],
      nodes,
      graceMs: opts.graceMs ?? 1500,
      leaseTtlMs: opts.leaseTtlMs ?? 2000,
      ...(opts.repairBytesPerSec ? { repairBytesPerSec: opts.repairBytesPerSec } : {}),
      ...(opts.maxLagMs ? { maxLagMs: opts.maxLagMs } : {}),
      ...(opts.clusterKeys ?? {}),
    };
    const file = join(root, 'cluster.json');
    writeFileSync(file, JSON.stringify(doc));
    // a proxied node's own copy differs from the shared file in its etcd endpoint only
    const fileOf = (id: string): string => {
      const proxy = etcdProxies.get(id);
      if (!proxy) return file;
      const own = join(root, `cluster-${id}.json`);
      writeFileSync(own, JSON.stringify({ ...doc, etcd: [proxy.endpoint] }));
      return own;
    };
    const configFile = join(root, 'archiver.json');
    writeFileSync(configFile, JSON.stringify({ logLevel: 'info', segmentLength: 65536, ...(opts.config ?? {}) }));
    const c = new Cluster(etcd, file);
    if (opts.proxied) c.links = new Links(replicationProxies, etcdProxies);
    for (const n of nodes) {
      const p = new NodeProcess(n.id, join(root, n.id), n.control, n.replication, fileOf(n.id), configFile);
      p.env = { ...(opts.env?.[n.id] ?? {}) };
      c.nodes.push(p);
    }
    await Promise.all(c.nodes.map((n) => n.start()));
    return c;
  }

  node(id: string): NodeProcess {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  up(): NodeProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes) {
      n.resume();
      await n.kill();
    }
    this.etcd.resume();
    await this.etcd.kill();
    await this.links?.close();
  }
}

export { repoRoot };
