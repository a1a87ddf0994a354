/**
 * The coordinator's verify deadlines (docs/REPLICATION.md §7, gray failures): a placement
 * member that holds no live copy of a sealed segment `verifyDeadlineMs` after it was due is
 * replaced as if it were down past grace. "Due" is the latest of
 *   - the first pass that saw the node in the segment's placement with the segment sealed (a
 *     node a repair places on a segment sealed long ago gets its whole deadline, and a node
 *     that leaves a placement and comes back starts a new one), and
 *   - the last pass that saw the node gain a live copy of any segment (a node working through a
 *     repair queue longer than one deadline is making progress, not failing: only a node
 *     that joins nothing for a whole deadline is gray), or come up as a new incarnation (a
 *     node back from a restart verifies its copies before it is ready and they count again:
 *     it is not replaced in that moment).
 * Without these, every pass during a repair replaced the nodes still fetching, and placements
 * flapped until the copies happened to land between two passes.
 *
 * `update` is called once per pass with the view; the state is only this coordinator's
 * observations (a new coordinator starts counting afresh, which only delays a replacement).
 */
import type { ClusterSegment } from './cluster-keys.js';
import type { ClusterView } from './cluster-view.js';

export class VerifyDeadlines {
  /** `R/base/node` of sealed segments' placement members -> first seen (ms) */
  private placedSince = new Map<string, number>();
  /** `R/base/node` of live copies seen at the last update */
  private copies = new Set<string>();
  /** node -> last time it gained a live copy, or came up as a new incarnation (ms) */
  private readonly progressMs = new Map<string, number>();
  /** node -> the incarnation (lease) seen up at the last update */
  private incarnations = new Map<string, string>();

  constructor(private readonly verifyDeadlineMs: number) {}

  /** Takes this pass's view into account. */
  update(view: ClusterView, nowMs: number): void {
    const incarnations = new Map<string, string>();
    for (const [node, m] of view.members) {
      incarnations.set(node, m.lease);
      if (this.incarnations.get(node) !== m.lease) this.progressMs.set(node, nowMs);
    }
    this.incarnations = incarnations;
    const placed = new Map<string, number>();
    const copies = new Set<string>();
    for (const { value: s } of view.allSegments()) {
      if (s.state !== 'sealed') continue;
      for (const n of s.placement) {
        const key = keyOf(s, n);
        placed.set(key, this.placedSince.get(key) ?? nowMs);
      }
      for (const e of view.liveCopies(s)) {
        const key = keyOf(s, e.node);
        copies.add(key);
        if (!this.copies.has(key)) this.progressMs.set(e.node, nowMs);
      }
    }
    this.placedSince = placed;
    this.copies = copies;
  }

  /** Node `node`, up and placed on sealed segment `s` without a live copy, is past its deadline. */
  missed(view: ClusterView, node: string, s: ClusterSegment, nowMs: number): boolean {
    if (s.state !== 'sealed' || !view.isUp(node)) return false;
    if (view.liveCopies(s).some((e) => e.node === node)) return false;
    const due = Math.max(this.placedSince.get(keyOf(s, node)) ?? nowMs, this.progressMs.get(node) ?? 0);
    return nowMs - due > this.verifyDeadlineMs;
  }
}

function keyOf(s: ClusterSegment, node: string): string {
  return `${s.recordingId}/${s.base}/${node}`;
}
