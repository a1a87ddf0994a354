/**
 * Deleting the events of one recording in a UTC interval, minus quarantine holds.
 *
 * Positions must stay stable, so deleted frames are not removed from the stream: each run
 * of consecutive deleted frames inside one segment becomes a single DELETED frame spanning
 * the run (header rewritten, CRC over the header), its body is zeroed, and the whole pages
 * inside it are punched out of the file (fallocate --punch-hole) so their blocks are freed.
 * A segment left with no DATA frame is removed and replaced by a tombstone. Time index
 * entries that pointed inside a merged run are dropped. The live segment of a recording
 * being written is never removed, and nothing at or past the writer's position is touched.
 *
 * Before any frame of a segment is rewritten, the (position, length, CRC, UTC) of every DATA
 * frame about to go is appended to the segment's deletion log and fsync'ed, so the segment
 * digest stays checkable (digest.ts). Holds are plain intervals: the local quarantines, or
 * the holds a cluster-wide deletion was decided with.
 */
import { statSync } from 'node:fs';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { writeHeaderOnlyFrame } from './frame.js';
import { FRAME_HEADER_LENGTH, FrameType, alignFrame } from './layout.js';
import { appendDeletionLog, type DeletionLogRecord } from './deletion-log.js';
import { punchHole, type SegmentFiles } from './segment-files.js';
import type { TimeIndex } from './time-index.js';
import type { HoldInterval } from './types.js';

const PAGE = 4096;
const header = new EventFrameHeaderDecoder();

export interface DeletionTarget {
  recordingId: number;
  files: SegmentFiles;
  index: TimeIndex;
  /** Frames at or after this position are not touched. */
  end: number;
  /** Base of the segment being written (never removed). */
  activeBase: number;
  /** First frame position with utc >= t. */
  seek(utcNs: bigint): number;
}

interface Run {
  base: number;
  start: number;
  end: number;
  utc: bigint;
  mono: bigint;
  dataFrames: number;
  /** The DATA frames of the run, for the deletion log. */
  removed: DeletionLogRecord[];
}

/** [from, to) minus every hold's [from, to). */
export function subtractHolds(from: bigint, to: bigint, holds: readonly HoldInterval[]): [bigint, bigint][] {
  let parts: [bigint, bigint][] = [[from, to]];
  for (const h of holds) {
    const next: [bigint, bigint][] = [];
    for (const [a, b] of parts) {
      if (h.toUtcNs <= a || h.fromUtcNs >= b) {
        next.push([a, b]);
        continue;
      }
      if (h.fromUtcNs > a) next.push([a, h.fromUtcNs]);
      if (h.toUtcNs < b) next.push([h.toUtcNs, b]);
    }
    parts = next;
  }
  return parts;
}

export function applyDeletion(t: DeletionTarget, from: bigint, to: bigint, holds: readonly HoldInterval[]): { framesDeleted: number; bytesReclaimed: number } {
  const runs: Run[] = [];
  for (const [a, b] of subtractHolds(from, to, holds)) collectRuns(t, a, b, runs);
  if (runs.length === 0) return { framesDeleted: 0, bytesReclaimed: 0 };
  const touched = [...new Set(runs.map((r) => r.base))];
  for (const base of touched) {
    appendDeletionLog(t.files, base, runs.filter((r) => r.base === base).flatMap((r) => r.removed));
  }
  const before = diskUsage(t.files, touched);
  let framesDeleted = 0;
  const maps = new Map<number, Buffer>();
  for (const r of runs) {
    let seg = maps.get(r.base);
    if (!seg) {
      seg = t.files.map(r.base, true);
      maps.set(r.base, seg);
    }
    framesDeleted += r.dataFrames;
    const s = r.start - r.base;
    const e = r.end - r.base;
    writeHeaderOnlyFrame(seg, s, e - s, FrameType.DELETED, r.utc, r.mono);
    const pageFrom = Math.ceil((s + FRAME_HEADER_LENGTH) / PAGE) * PAGE;
    const pageTo = Math.floor(e / PAGE) * PAGE;
    if (pageTo > pageFrom) {
      seg.fill(0, s + FRAME_HEADER_LENGTH, pageFrom);
      seg.fill(0, pageTo, e);
      if (!punchHole(t.files.path(r.base), pageFrom, pageTo - pageFrom)) seg.fill(0, pageFrom, pageTo);
    } else {
      seg.fill(0, s + FRAME_HEADER_LENGTH, e);
    }
  }
  const removed = new Set<number>();
  for (const [base, seg] of maps) {
    if (base < t.activeBase && !hasData(seg, t.files.segmentLength, Math.min(t.end - base, t.files.segmentLength))) {
      t.files.tombstone(base);
      removed.add(base);
    }
  }
  const segLen = t.files.segmentLength;
  t.index.filter((p) => {
    if (removed.has(p - (p & (segLen - 1)))) return false;
    for (const r of runs) if (p > r.start && p < r.end) return false;
    return true;
  });
  const after = diskUsage(t.files, touched);
  return { framesDeleted, bytesReclaimed: Math.max(0, before - after) };
}

function collectRuns(t: DeletionTarget, from: bigint, to: bigint, out: Run[]): void {
  const segLen = t.files.segmentLength;
  let pos = t.seek(from);
  let run: Run | undefined;
  const close = (): void => {
    if (run && run.dataFrames > 0) out.push(run);
    run = undefined;
  };
  let seg: Buffer | undefined;
  let segBase = -1;
  while (pos < t.end) {
    const base = pos - (pos & (segLen - 1));
    if (base !== segBase) {
      close();
      const st = t.files.status(base);
      if (st !== 'present') {
        pos = base + segLen;
        continue;
      }
      seg = t.files.map(base, false);
      segBase = base;
    }
    const off = pos - base;
    if (segLen - off < FRAME_HEADER_LENGTH) {
      pos = base + segLen;
      continue;
    }
    const h = header.wrap(seg!, off);
    const length = h.frameLength();
    if (length < FRAME_HEADER_LENGTH) break;
    const type = h.frameType();
    const next = type === FrameType.PADDING ? base + segLen : pos + alignFrame(length);
    if (type === FrameType.DATA) {
      const utc = h.utcNs();
      if (utc >= to) break;
      if (utc >= from) {
        if (!run) run = { base, start: pos, end: next, utc, mono: h.monoNs(), dataFrames: 0, removed: [] };
        run.end = next;
        run.dataFrames++;
        run.removed.push({ position: pos, frameLength: length, crc32c: h.crc32c(), utcNs: utc });
      } else close();
    } else if (type === FrameType.DELETED && run) {
      run.end = next;
    } else {
      close();
    }
    pos = next;
  }
  close();
}

function hasData(seg: Buffer, segLen: number, limit: number): boolean {
  let off = 0;
  while (off < limit && segLen - off >= FRAME_HEADER_LENGTH) {
    const h = header.wrap(seg, off);
    const length = h.frameLength();
    if (length < FRAME_HEADER_LENGTH) return false;
    const type = h.frameType();
    if (type === FrameType.DATA) return true;
    if (type === FrameType.PADDING) return false;
    off += alignFrame(length);
  }
  return false;
}

function diskUsage(files: SegmentFiles, bases: number[]): number {
  let total = 0;
  for (const b of bases) {
    try {
      total += statSync(files.path(b)).blocks * 512;
    } catch {
      // removed
    }
  }
  return total;
}
