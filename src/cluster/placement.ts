/**
 * Rendezvous (highest-random-weight) placement of segments (docs/REPLICATION.md §4): the K
 * nodes with the highest score for (recording, base) among the candidates. Scores are
 * independent per segment, so segments stripe evenly over the nodes and a node's share of S
 * segments is Binomial(S, K/N)/S; removing a node moves only the segments it held (each to
 * the next node in its order).
 */
import { createHash } from 'node:crypto';

export function score(node: string, recordingId: number, base: number): bigint {
  return createHash('sha256').update(`${node}/${recordingId}/${base}`).digest().readBigUInt64BE(0);
}

/** Candidates in rendezvous order for the segment (highest score first; ties by node id). */
export function rendezvousOrder(candidates: readonly string[], recordingId: number, base: number): string[] {
  return [...candidates]
    .map((node) => ({ node, s: score(node, recordingId, base) }))
    .sort((a, b) => (a.s === b.s ? (a.node < b.node ? -1 : 1) : a.s > b.s ? -1 : 1))
    .map((x) => x.node);
}

/** The placement of a new segment: the first k candidates in rendezvous order. */
export function place(candidates: readonly string[], k: number, recordingId: number, base: number): string[] {
  return rendezvousOrder(candidates, recordingId, base).slice(0, k);
}

/**
 * A repaired placement: keeps the members in `keep` (up, or down within grace), then adds
 * nodes from `up` in rendezvous order until there are k.
 */
export function repairPlacement(current: readonly string[], keep: (node: string) => boolean, up: readonly string[], k: number, recordingId: number, base: number): string[] {
  const out = current.filter(keep);
  for (const n of rendezvousOrder(up, recordingId, base)) {
    if (out.length >= k) break;
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** The stated share bound of §4: K/N ± 4 standard deviations of Binomial(S, K/N)/S. */
export function shareBound(n: number, k: number, segments: number): { low: number; high: number } {
  const p = k / n;
  const d = 4 * Math.sqrt((p * (1 - p)) / segments);
  return { low: p - d, high: p + d };
}
