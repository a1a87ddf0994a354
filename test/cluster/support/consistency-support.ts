/**
 * Helpers for the consistency fault tests (docs/REPLICATION.md §6, §8, §10): what each node
 * serves (payload and UTC of every event), what each node's own segment files still hold (a
 * deletion zeroes the bodies of the frames it removes, so a deleted payload found in a `.rec`
 * file means the deletion was not applied to that copy), the member records and directory
 * files that say which disk a node is on, and a UDP sender that keeps going in the
 * background while a test stops and starts processes.
 */
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeValue, type MemberValue } from '../../../src/cluster/cluster-keys.js';
import type { ArchiveClient } from '../../../src/client/archive-client.js';
import { runVcr } from '../../helpers/cli.js';
import { until } from '../../helpers/wait.js';
import type { Cluster, NodeProcess } from './cluster-harness.js';
import { PREFIX } from './cluster-checks.js';

export interface Served {
  payload: string;
  utcNs: bigint;
}

/** Every event of a recording as one node serves it (reliable read). */
export async function eventsOf(client: ArchiveClient, recordingId: number): Promise<Served[]> {
  const out: Served[] = [];
  for await (const e of client.read({ recordingId })) out.push({ payload: Buffer.from(e.payload).toString(), utcNs: e.utcNs });
  return out;
}

/** Reads a recording through a node's client; closes the client. */
export async function readFrom(n: NodeProcess, recordingId: number): Promise<Served[]> {
  const client = await n.client();
  try {
    return await eventsOf(client, recordingId);
  } finally {
    await client.close();
  }
}

/** The event index `i` of a payload "tag-i-xxx". */
export function indexOf(payload: string): number {
  return Number(payload.split('-')[1]);
}

/**
 * The event indices of `tag` whose payload is still in the node's own segment files of the
 * recording (`<id>-<base>.rec` in the archive directory; the read cache under `cache/` is not
 * a copy and is not looked at).
 */
export function indicesInFiles(n: NodeProcess, recordingId: number, tag: string): Set<number> {
  const found = new Set<number>();
  let names: string[];
  try {
    names = readdirSync(n.dir);
  } catch {
    return found;
  }
  const re = new RegExp(`${tag}-(\\d+)-`, 'g');
  for (const name of names) {
    if (!name.startsWith(`${recordingId}-`) || !name.endsWith('.rec')) continue;
    let text: string;
    try {
      text = readFileSync(join(n.dir, name)).toString('latin1');
    } catch {
      continue; // dropped meanwhile
    }
    for (const m of text.matchAll(re)) found.add(Number(m[1]));
  }
  return found;
}

/** The segment files of a recording in a node's archive directory, by base. */
export function segmentFileBases(n: NodeProcess, recordingId: number): number[] {
  try {
    return readdirSync(n.dir)
      .filter((f) => f.startsWith(`${recordingId}-`) && f.endsWith('.rec'))
      .map((f) => Number(f.slice(String(recordingId).length + 1, -4)))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** The directory's `cluster-node.json` (its disk id). */
export function nodeFile(n: NodeProcess): { cluster: string; node: string; disk: string; lease: string } {
  return JSON.parse(readFileSync(join(n.dir, 'cluster-node.json'), 'utf8')) as { cluster: string; node: string; disk: string; lease: string };
}

/** The member record of a node in etcd (undefined while it is down). */
export async function member(c: Cluster, node: string): Promise<MemberValue | undefined> {
  const etcd = c.etcd.client();
  try {
    const v = await etcd.get(`${PREFIX}m/${node}`).string();
    return v === null ? undefined : decodeValue<MemberValue>(v);
  } finally {
    etcd.close();
  }
}

/** Waits until a node's member record says it finished rejoining (ready). */
export async function untilReady(c: Cluster, n: NodeProcess, timeoutMs = 30_000): Promise<void> {
  await until(`node ${n.id} ready`, async () => (await member(c, n.id))?.ready === true, timeoutMs, 100);
}

/** Waits until a node's member record is gone (its lease revoked or expired). */
export async function untilGone(c: Cluster, id: string, timeoutMs = 15_000): Promise<void> {
  await until(`node ${id} out of etcd`, async () => (await member(c, id)) === undefined, timeoutMs, 100);
}

/** `vcr <args> --json --archiver <node>` as parsed JSON lines (the CLI a script would use). */
export function cliJson(n: NodeProcess, args: string[]): Record<string, unknown>[] {
  const r = runVcr([...args, '--json', '--archiver', n.control]);
  if (r.status !== 0) throw new Error(`vcr ${args.join(' ')} on ${n.id} exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Sends numbered datagrams "tag-i-xxx" to a UDP port in the background, `perTick` every
 * `tickMs`, until `stop()`; `sent` holds every payload sent so far. The pace is what a test
 * about continuous recording needs, not a wait for something.
 */
export class BackgroundSender {
  readonly sent: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    port: number,
    readonly tag: string,
    perTick = 20,
    tickMs = 10,
    size = 200,
  ) {
    const s = createSocket('udp4');
    this.done = (async () => {
      try {
        while (this.running) {
          for (let j = 0; j < perTick; j++) {
            const head = `${tag}-${this.sent.length}-`;
            const payload = head + 'x'.repeat(Math.max(0, size - head.length));
            this.sent.push(payload);
            await new Promise<void>((r, e) => s.send(payload, port, '127.0.0.1', (err) => (err ? e(err) : r())));
          }
          await new Promise((r) => setTimeout(r, tickMs));
        }
      } finally {
        s.close();
      }
    })();
  }

  /** Resolves once at least `n` events were sent. */
  async untilSent(n: number, timeoutMs = 20_000): Promise<void> {
    await until(`${n} events sent`, () => this.sent.length >= n, timeoutMs, 10);
  }

  async stop(): Promise<string[]> {
    this.running = false;
    await this.done;
    return this.sent;
  }
}
