/**
 * The peer programs the benchmarks compare VCR with or need (nats-server for NATS JetStream,
 * tcpdump for `tcpdump -w`, etcd for the replication benchmarks' cluster metadata): found on
 * PATH, or installed from the distribution's packages when missing (`apt-get install -y ...`,
 * said on stderr). A peer that is still missing after that is skipped by its benchmark and
 * reported as "not measured: <why>", never a failed run.
 */
import { spawnSync } from 'node:child_process';

export interface PeerProgram {
  /** executable name */
  command: string;
  /** Debian package that provides it */
  aptPackage: string;
  /** arguments that print a version and exit 0 */
  versionArgs: string[];
}

export const PEERS: PeerProgram[] = [
  { command: 'nats-server', aptPackage: 'nats-server', versionArgs: ['--version'] },
  { command: 'tcpdump', aptPackage: 'tcpdump', versionArgs: ['--version'] },
  { command: 'etcd', aptPackage: 'etcd-server', versionArgs: ['--version'] },
];

/** The program's version line, or undefined when it cannot be run. */
export function peerVersion(p: PeerProgram): string | undefined {
  const r = spawnSync(p.command, p.versionArgs, { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim().length > 0)?.trim() ?? 'installed';
}

/**
 * Installs the missing peers with apt-get (as root, else through `sudo -n`); returns for
 * each peer its version line or "missing: <why>".
 */
export function ensurePeers(peers: PeerProgram[] = PEERS): Record<string, string> {
  const out: Record<string, string> = {};
  const missing = peers.filter((p) => peerVersion(p) === undefined);
  if (missing.length > 0) {
    const pkgs = missing.map((p) => p.aptPackage);
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot ? 'apt-get' : 'sudo';
    const args = asRoot ? ['install', '-y', ...pkgs] : ['-n', 'apt-get', 'install', '-y', ...pkgs];
    process.stderr.write(`bench: ${missing.map((p) => p.command).join(', ')} not found; installing: ${cmd} ${args.join(' ')}\n`);
    const r = spawnSync(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const why = r.error ? r.error.message : r.status !== 0 ? (r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}` : '';
    if (why) process.stderr.write(`bench: install failed (${why}); the benchmarks skip these peers\n`);
    for (const p of missing) if (peerVersion(p) === undefined) out[p.command] = `missing: ${why || 'still not on PATH after apt-get install'}`;
  }
  for (const p of peers) out[p.command] ??= peerVersion(p) ?? 'missing';
  return out;
}

/** Why the peer cannot be used in this run, or undefined when it can. */
export function peerUnavailable(command: string): string | undefined {
  const p = PEERS.find((x) => x.command === command) ?? { command, aptPackage: command, versionArgs: ['--version'] };
  return peerVersion(p) === undefined ? `${command} is not installed (apt-get install -y ${p.aptPackage} failed or was not run)` : undefined;
}
