/**
 * A real cluster for the replication benchmarks (repair, replication lag): one real etcd
 * (Debian's etcd-server; installed with apt-get when missing, said on stderr) and N real
 * `vcr archiver --cluster FILE --node ID` processes on free loopback ports, each in its own
 * temporary directory. Every child is tracked by bench/udp/cleanup.ts (killed by pid on every
 * exit path) and every directory is removed at the end. When etcd cannot be had, `startCluster`
 * throws `EtcdUnavailable`, which the benchmarks turn into "not measured: <why>".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ArchiveClient, type ClusterStatus } from '../../src/client/index.js';
import { archiverBin, freeUdpPort } from '../udp/archiver-process.js';
import { tempDir, trackChild } from '../udp/cleanup.js';
import { repoRoot, sleep } from '../udp/harness.js';
import { ensurePeers, PEERS } from './peers.js';

export class EtcdUnavailable extends Error {}

/** USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on every Linux this runs on) */
const CLOCK_TICKS = 100;

export interface BenchClusterOptions {
  n: number;
  k: number;
  graceMs: number;
  leaseTtlMs?: number;
  repairBytesPerSec?: number;
  /** archiver config document shared by the nodes (segmentLength, logLevel, ...) */
  config?: Record<string, unknown>;
}

export interface BenchNode {
  readonly id: string;
  readonly dir: string;
  readonly control: string;
  readonly replication: string;
  child: ChildProcess | undefined;
  log: string;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value (not undefined), or throws naming `what` at the deadline. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * Extra node options for the archivers, for profiling a benchmark: VCR_BENCH_CPU_PROF=DIR
 * writes a V8 CPU profile of each archiver that exits normally (a SIGKILLed node writes none)
 * to DIR/<node>.cpuprofile. VCR_BENCH_LOG_DIR=DIR: the archivers log at info level, each
 * node's log to DIR/<node>.log (timing of placements, fetches and joins), and its stdout to
 * DIR/<node>.out. VCR_BENCH_NODE_ARGS: more node options for the archivers, e.g.
 * `--trace-gc` (its lines go to stdout) or `--perf-basic-prof-only-functions` (for perf(1)).
 */
function nodeArgs(id: string): string[] {
  const dir = process.env.VCR_BENCH_CPU_PROF;
  const extra = process.env.VCR_BENCH_NODE_ARGS?.split(/\s+/).filter((a) => a.length > 0) ?? [];
  return [...extra, ...(dir ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${id}.cpuprofile`] : [])];
}

function running(c: ChildProcess | undefined): c is ChildProcess {
  return !!c && c.exitCode === null && c.signalCode === null;
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  private readonly clients: ArchiveClient[] = [];

  private constructor(
    readonly root: string,
    readonly etcd: ChildProcess,
    readonly etcdEndpoint: string,
  ) {}

  /** Starts etcd and the N archivers, and waits until every node is up and ready. */
  static async start(opts: BenchClusterOptions): Promise<BenchCluster> {
    const peers = ensurePeers(PEERS.filter((p) => p.command === 'etcd'));
    if (peers.etcd?.startsWith('missing')) throw new EtcdUnavailable(`etcd is not installed (${peers.etcd}; apt-get install -y etcd-server)`);
    const root = tempDir('cluster');
    const [clientPort, peerPort] = [await freeTcpPort(), await freeTcpPort()];
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    let etcdLog = '';
    const etcd = trackChild(
      spawn(
        'etcd',
        ['--name', 'vcr-bench', '--data-dir', join(root, 'etcd'), '--listen-client-urls', client, '--advertise-client-urls', client,
          '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `vcr-bench=${peer}`,
          '--heartbeat-interval', '50', '--election-timeout', '250', '--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1000',
          '--log-level', 'error'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    );
    etcd.stderr!.on('data', (d: Buffer) => (etcdLog = (etcdLog + d.toString()).slice(-4000)));
    const c = new BenchCluster(root, etcd, `127.0.0.1:${clientPort}`);
    const entries = [];
    for (let i = 0; i < opts.n; i++) {
      entries.push({ id: String.fromCharCode(97 + i), control: `127.0.0.1:${await freeUdpPort()}`, replication: `127.0.0.1:${await freeTcpPort()}` });
    }
    const clusterFile = join(root, 'cluster.json');
    writeFileSync(
      clusterFile,
      JSON.stringify({
        name: 'bench',
        k: opts.k,
        etcd: [c.etcdEndpoint],
        nodes: entries,
        graceMs: opts.graceMs,
        ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}),
        ...(opts.repairBytesPerSec ? { repairBytesPerSec: opts.repairBytesPerSec } : {}),
      }),
    );
    const configFile = join(root, 'archiver.json');
    const logDir = process.env.VCR_BENCH_LOG_DIR;
    writeFileSync(configFile, JSON.stringify({ logLevel: logDir ? 'info' : 'warn', ...(opts.config ?? {}) }));
    for (const e of entries) {
      const node: BenchNode = { ...e, dir: join(root, e.id), child: undefined, log: '' };
      const child = trackChild(
        spawn(process.execPath, [...nodeArgs(e.id), archiverBin(), 'archiver', '--dir', node.dir, '--cluster', clusterFile, '--node', e.id, '--control', e.control, '--config', configFile], {
          cwd: repoRoot,
          stdio: ['ignore', logDir ? 'pipe' : 'ignore', 'pipe'],
        }),
      );
      child.stderr!.on('data', (d: Buffer) => (node.log = (node.log + d.toString()).slice(-20_000)));
      if (logDir) {
        child.stderr!.pipe(createWriteStream(join(logDir, `${e.id}.log`)));
        child.stdout!.pipe(createWriteStream(join(logDir, `${e.id}.out`)));
      }
      node.child = child;
      c.nodes.push(node);
    }
    if (!running(etcd)) throw new Error(`etcd exited: ${etcdLog}`);
    const first = await c.client(c.nodes[0]!.id);
    await waitFor('every node up and ready', 60_000, async () => {
      for (const n of c.nodes) if (!running(n.child)) throw new Error(`node ${n.id} exited: ${n.log.slice(-2000)}`);
      const s = await first.clusterStatus();
      return s.nodes.length === opts.n && s.nodes.every((x) => x.up && x.ready) ? s : undefined;
    });
    return c;
  }

  node(id: string): BenchNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** A control session on node `id` (closed by `stop`); `timeoutMs` per request attempt (2 attempts). */
  async client(id: string, timeoutMs = 1000): Promise<ArchiveClient> {
    const n = this.node(id);
    const c = await waitFor(`node ${id}'s control endpoint`, 30_000, async () => {
      if (!running(n.child)) throw new Error(`node ${id} exited: ${n.log.slice(-2000)}`);
      return ArchiveClient.connect({ archiver: n.control, timeoutMs, attempts: 2, clientName: 'vcr-bench' });
    });
    this.clients.push(c);
    return c;
  }

  /** CPU seconds (user + system) node `id`'s process has used so far, from /proc; undefined when not running or not Linux. */
  cpuSeconds(id: string): number | undefined {
    const pid = this.node(id).child?.pid;
    if (pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
  }

  /** SIGKILL of node `id`, by its pid; resolves when it has exited. */
  async kill(id: string): Promise<void> {
    const c = this.node(id).child;
    if (!running(c)) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }

  /** Closes the sessions, stops the archivers (SIGTERM, SIGKILL after 5 s) and etcd; cleanupNow removes the directories. */
  async stop(): Promise<void> {
    for (const cl of this.clients.splice(0)) await cl.close().catch(() => undefined);
    const children = [...this.nodes.map((n) => n.child), this.etcd].filter(running);
    await Promise.all(
      children.map(async (c) => {
        const gone = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }),
    );
  }
}

/** One line of a cluster status, for progress on stderr. */
export function statusLine(s: ClusterStatus): string {
  const nodes = s.nodes.map((n) => `${n.id}:${n.up ? (n.ready ? 'up' : 'joining') : 'DOWN'}/${n.segments}seg/${(n.bytes / 2 ** 20).toFixed(0)}MiB`).join(' ');
  return `under-replicated=${s.underReplicatedSegments} repairing=${s.repairing ? 'yes' : 'no'} toRepair=${(s.bytesToRepair / 2 ** 20).toFixed(0)}MiB ${nodes}`;
}
