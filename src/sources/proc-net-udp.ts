/**
 * Kernel drop counts for UDP sockets, from /proc/net/udp and /proc/net/udp6 (Linux). Each row
 * holds a socket's local address:port (hex), its inode and, last, its drops counter. The
 * socket is identified by inode: the inodes that appear in /proc/self/fd (links such as
 * `socket:[12345]`) around the bind, narrowed by local port.
 */
import { readdirSync, readlinkSync } from 'node:fs';

export interface ProcUdpRow {
  readonly localPort: number;
  readonly inode: number;
  readonly drops: number;
}

/** Parse the rows of a /proc/net/udp or udp6 text. Malformed lines are skipped. */
export function parseProcNetUdp(text: string): ProcUdpRow[] {
  const rows: ProcUdpRow[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retr uid timeout inode ref pointer drops
    if (f.length < 13) continue;
    const local = f[1]!;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const localPort = parseInt(local.slice(colon + 1), 16);
    const inode = Number(f[9]);
    const drops = Number(f[f.length - 1]);
    if (!Number.isFinite(localPort) || !Number.isFinite(inode) || !Number.isFinite(drops)) continue;
    rows.push({ localPort, inode, drops });
  }
  return rows;
}

/** Inodes of the sockets this process has open now. */
export function ownSocketInodes(fdDir = '/proc/self/fd'): Set<number> {
  const out = new Set<number>();
  let names: string[];
  try {
    names = readdirSync(fdDir);
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${fdDir}/${name}`));
      if (m) out.add(Number(m[1]));
    } catch {
      // fd closed meanwhile
    }
  }
  return out;
}

/**
 * Pick our socket's inode: rows with our port whose inode is one of our sockets, preferring
 * sockets that did not exist before the bind. Returns undefined if it cannot be told apart.
 */
export function findSocketInode(rows: readonly ProcUdpRow[], port: number, own: Set<number>, before: Set<number>): number | undefined {
  const ours = rows.filter((r) => r.localPort === port && own.has(r.inode));
  const fresh = ours.filter((r) => !before.has(r.inode));
  if (fresh.length === 1) return fresh[0]!.inode;
  if (ours.length === 1) return ours[0]!.inode;
  return undefined;
}
