/**
 * Events of several recordings within a UTC interval [from, to), in timestamp order.
 * Each recording is already ordered by UTC, so this is a k-way merge of FrameCursors that
 * picks the smallest (utcNs, recordingId, position) head; ties are broken by recordingId,
 * then position, so the order is the same on every run.
 */
import { compareMergeOrder } from '../util/merge-order.js';
import type { FrameCursor } from './recording-reader.js';
import type { MergedFrameHandler } from './types.js';

export interface MergeInput {
  cursor: FrameCursor;
  /** End of the recording's readable frames at open. */
  limit: number;
}

export class MergedReader {
  private readonly inputs: MergeInput[];
  private readonly hasHead: boolean[];
  private primed = false;
  private done = false;

  constructor(
    inputs: MergeInput[],
    private readonly toUtcNs: bigint,
  ) {
    this.inputs = [...inputs].sort((a, b) => a.cursor.recordingId - b.cursor.recordingId);
    this.hasHead = this.inputs.map(() => false);
  }

  isDone(): boolean {
    return this.done;
  }

  /** Delivers up to `maxFrames` events in order; returns how many. */
  poll(handler: MergedFrameHandler, maxFrames: number): number {
    if (this.done) return 0;
    if (!this.primed) {
      for (let i = 0; i < this.inputs.length; i++) this.advance(i);
      this.primed = true;
    }
    let n = 0;
    const heads = this.inputs;
    while (n < maxFrames) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        if (!this.hasHead[i]) continue;
        if (best < 0) {
          best = i;
          continue;
        }
        const a = heads[i]!.cursor;
        const b = heads[best]!.cursor;
        if (compareMergeOrder(a.utcNs, a.recordingId, a.framePosition, b.utcNs, b.recordingId, b.framePosition) < 0) best = i;
      }
      if (best < 0) {
        this.done = true;
        break;
      }
      const c = heads[best]!.cursor;
      handler(c.recordingId, c.buffer, c.payloadOffset, c.payloadLength, c.framePosition, c.utcNs, c.monoNs, c.flags);
      n++;
      this.advance(best);
    }
    return n;
  }

  close(): void {
    this.done = true;
  }

  private advance(i: number): void {
    const input = this.inputs[i]!;
    const ok = input.cursor.next(input.limit) && input.cursor.utcNs < this.toUtcNs;
    this.hasHead[i] = ok;
  }
}
