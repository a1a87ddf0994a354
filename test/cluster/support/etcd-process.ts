/**
 * A real etcd (Debian's etcd-server) for the cluster tests, on free loopback ports in a
 * temporary data directory. `.ci/run` installs the package when it is missing; a test run
 * without it fails loudly in `startEtcd` (never skips), naming what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Etcd3 } from 'etcd3';
import { tempDir, until } from '../../helpers/wait.js';

export function etcdBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (!path) throw new Error('etcd is not installed: apt-get install -y etcd-server (Debian package)');
  return path;
}

export async function freeTcpPort(): Promise<number> {
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

export class EtcdProcess {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(): Promise<EtcdProcess> {
    const e = new EtcdProcess(tempDir('vcr-etcd-'), await freeTcpPort(), await freeTcpPort());
    await e.run();
    return e;
  }

  /** (Re)starts etcd on the same ports and data directory, and waits until it answers. */
  async run(): Promise<void> {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      etcdBinary(),
      [
        '--name', 'vcr-test',
        '--data-dir', this.dataDir,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `vcr-test=${peer}`,
        '--heartbeat-interval', '50',
        '--election-timeout', '250',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-10_000)));
    this.child = child;
    const probe = new Etcd3({ hosts: client, dialTimeout: 500 });
    try {
      await until(
        'etcd to answer',
        async () => {
          if (child.exitCode !== null) throw new Error(`etcd exited: ${this.log.slice(-2000)}`);
          await probe.get('probe').string();
          return true;
        },
        15_000,
        50,
      );
    } finally {
      probe.close();
    }
  }

  /** SIGKILL; the data directory stays, so run() brings the same cluster back. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  client(): Etcd3 {
    return new Etcd3({ hosts: `http://${this.endpoint}`, dialTimeout: 1000 });
  }
}
