/**
 * `vcr demo --cluster`: the replication tour. It starts a real etcd and three archivers
 * (`vcr archiver --cluster FILE --node ID`, K=2) in a temporary directory on free loopback
 * ports, records a UDP stream on one node, shows the copies spread over the others, reads the
 * recording from a node that did not record it, kills (-9) a node holding copies, shows the
 * repair back to K copies in `cluster status` terms, reads everything again, and cleans up.
 * It needs the `etcd` binary (Debian: `apt-get install etcd-server`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveClient } from '../../client/archive-client.js';
import type { ClusterStatus } from '../../client/types.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { interrupts } from '../interrupt.js';
import { info } from '../output.js';

const EVENTS = 3000;

export interface DemoTools {
  vcrBin(): string;
  freeUdpPort(): Promise<number>;
  waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T>;
  step(n: number, text: string): void;
  fail(text: string): never;
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function statusLine(s: ClusterStatus): string {
  const nodes = s.nodes.map((n) => `${n.id}:${n.up ? (n.ready ? 'up' : 'joining') : 'DOWN'}/${n.segments} seg`).join('  ');
  return `k=${s.k}  under-replicated=${s.underReplicatedSegments}  repairing=${s.repairing ? 'yes' : 'no'}  bytes to repair=${s.bytesToRepair}  ${nodes}`;
}

export async function runClusterDemo(t: DemoTools): Promise<void> {
  if (spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'demo --cluster needs the etcd binary on PATH (Debian: apt-get install etcd-server)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'vcr-cluster-demo-'));
  const children: ChildProcess[] = [];
  const clients: ArchiveClient[] = [];
  const offInterrupt = interrupts.onInterrupt(() => clients.forEach((c) => void c.close()));
  try {
    const [etcdClient, etcdPeer] = [await freeTcpPort(), await freeTcpPort()];
    const etcd = spawn(
      'etcd',
      ['--name', 'demo', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
        '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-cluster', `demo=http://127.0.0.1:${etcdPeer}`],
      { stdio: 'ignore' },
    );
    children.push(etcd);
    const ids = ['a', 'b', 'c'];
    const nodes = [];
    for (const id of ids) nodes.push({ id, control: `127.0.0.1:${await t.freeUdpPort()}`, replication: `127.0.0.1:${await freeTcpPort()}` });
    const clusterFile = join(dir, 'cluster.json');
    writeFileSync(clusterFile, JSON.stringify({ name: 'demo', k: 2, etcd: [`127.0.0.1:${etcdClient}`], nodes, graceMs: 2000, leaseTtlMs: 3000 }, null, 2));
    const configFile = join(dir, 'archiver.json');
    writeFileSync(configFile, JSON.stringify({ segmentLength: 65536, logLevel: 'warn' }));
    t.step(1, `etcd on 127.0.0.1:${etcdClient}; cluster file ${clusterFile} (K=2, N=3, 64 KiB segments)`);
    const procs = new Map<string, ChildProcess>();
    for (const n of nodes) {
      const p = spawn(process.execPath, [t.vcrBin(), 'archiver', '--dir', join(dir, n.id), '--cluster', clusterFile, '--node', n.id, '--config', configFile], { stdio: ['ignore', 'ignore', 'ignore'] });
      children.push(p);
      procs.set(n.id, p);
    }
    const connect = (control: string) =>
      t.waitFor(`the archiver at ${control}`, 30_000, async () => {
        const c = await ArchiveClient.connect({ archiver: control, timeoutMs: 300, attempts: 2, clientName: 'vcr-demo' });
        clients.push(c);
        return c;
      });
    const [a, , c] = [await connect(nodes[0]!.control), await connect(nodes[1]!.control), await connect(nodes[2]!.control)];
    await t.waitFor('all nodes ready', 30_000, async () => ((await a!.clusterStatus()).nodes.every((n) => n.up && n.ready) ? true : undefined));
    t.step(2, `three archivers joined: ${nodes.map((n) => `${n.id} (control ${n.control}, replication ${n.replication})`).join(', ')}`);

    const port = await t.freeUdpPort();
    const rec = await a!.startRecording({ channel: 'demo.radar', source: `udp://127.0.0.1:${port}` });
    const sender = createSocket('udp4');
    for (let i = 0; i < EVENTS; i++) {
      await new Promise<void>((r) => sender.send(`radar event ${i} ${'x'.repeat(180)}`, port, '127.0.0.1', () => r()));
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 2));
    }
    sender.close();
    await t.waitFor(`${EVENTS} events`, 20_000, async () => ((await a!.describeRecording(rec)).eventCount >= EVENTS ? true : undefined));
    await a!.stopRecording({ recordingId: rec });
    t.step(3, `node a recorded ${EVENTS} events as recording ${rec} (channel demo.radar) and stopped it`);
    const settled = await t.waitFor('K copies of every segment', 30_000, async () => {
      const s = await a!.clusterStatus();
      return s.underReplicatedSegments === 0 && s.nodes.reduce((m, n) => m + n.segments, 0) > 0 ? s : undefined;
    });
    t.step(4, `copies placed by rendezvous hashing, each segment on 2 of 3 nodes: ${statusLine(settled)}`);
    let read = 0;
    for await (const _e of c!.read({ recordingId: rec })) read++;
    if (read !== EVENTS) t.fail(`node c served ${read} events, ${EVENTS} expected`);
    t.step(5, `node c (which did not record) served all ${read} events of recording ${rec}`);

    procs.get('b')!.kill('SIGKILL');
    t.step(6, 'node b killed (SIGKILL); the cluster waits graceMs (2 s) past its lease, then repairs');
    let last = '';
    const repaired = await t.waitFor('repair to K copies', 60_000, async () => {
      const s = await a!.clusterStatus();
      const line = statusLine(s);
      if (line !== last) info(`         ${line}`);
      last = line;
      return s.nodes.find((n) => n.id === 'b')?.up === false && s.underReplicatedSegments === 0 ? s : undefined;
    });
    t.step(7, `repaired: ${statusLine(repaired)}`);
    read = 0;
    for await (const _e of c!.read({ recordingId: rec })) read++;
    if (read !== EVENTS) t.fail(`after the repair node c served ${read} events, ${EVENTS} expected`);
    t.step(8, `all ${read} events are still served with one node gone; done, cleaning up`);
  } finally {
    offInterrupt();
    for (const cl of clients) await cl.close().catch(() => undefined);
    for (const p of children.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
