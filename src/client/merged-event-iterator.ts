/**
 * Client-side merge of several recordings' event streams into one stream in the merge order
 * of src/util/merge-order.ts, (utcNs, recordingId, position) (PROTOCOL.md "Reading channels
 * over a UTC interval"): a k-way merge over a min-heap of the inputs' next events. Each input
 * must itself be in that order, which a single recording's stream is (UTC within a recording
 * never goes backwards, positions grow).
 *
 * The merge only yields an event once every other open input has shown its next event (or
 * ended), so with live ("follow") inputs a quiet recording holds the others back until it
 * produces or stops. That is the price of a strict order.
 *
 * Inputs can join while the merge runs (recordings that start after a follow read began),
 * through a MergeDiscovery: it promises that any input it has not handed over yet holds no
 * event at or before its watermark, so the merge yields an event only when the event is at
 * or before the watermark, and asks the discovery to look again (which may add inputs and
 * moves the watermark on) otherwise. While the discovery is open, the merge does not end when
 * its inputs do; it asks again.
 */
import { compareMergeKeys } from '../util/merge-order.js';
import type { RecordedEvent } from './types.js';

/** The merge order of two events (src/util/merge-order.ts). */
export const compareEvents: (a: RecordedEvent, b: RecordedEvent) => number = compareMergeKeys;

export interface MergeDiscovery {
  /** No input not handed over yet holds an event with a UTC at or before this. */
  watermarkUtcNs(): bigint;
  /** False once no more inputs can come: the merge then ends when its inputs do. */
  isOpen(): boolean;
  /**
   * Looks for more inputs (waiting first as the implementation sees fit) and moves the
   * watermark on. `idle` is true when no input is open any more.
   */
  discover(idle: boolean): Promise<AsyncIterable<RecordedEvent>[]>;
}

interface Head {
  it: AsyncIterator<RecordedEvent>;
  event: RecordedEvent;
}

/** A binary min-heap of the inputs' current heads. */
class HeadHeap {
  private readonly items: Head[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Head | undefined {
    return this.items[0];
  }

  push(h: Head): void {
    const a = this.items;
    a.push(h);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareEvents(a[parent]!.event, a[i]!.event) <= 0) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): Head | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && compareEvents(a[l]!.event, a[m]!.event) < 0) m = l;
        if (r < a.length && compareEvents(a[r]!.event, a[m]!.event) < 0) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

export async function* mergeEvents(inputs: AsyncIterable<RecordedEvent>[], discovery?: MergeDiscovery): AsyncGenerator<RecordedEvent, void, undefined> {
  const heap = new HeadHeap();
  const iterators: AsyncIterator<RecordedEvent>[] = [];
  const add = async (more: AsyncIterable<RecordedEvent>[]): Promise<void> => {
    const its = more.map((i) => i[Symbol.asyncIterator]());
    iterators.push(...its);
    const firsts = await Promise.all(its.map((it) => it.next()));
    firsts.forEach((r, i) => {
      if (!r.done) heap.push({ it: its[i]!, event: r.value });
    });
  };
  let finished = false;
  try {
    await add(inputs);
    for (;;) {
      const top = heap.peek();
      if (discovery?.isOpen() && (top === undefined || top.event.utcNs > discovery.watermarkUtcNs())) {
        // an input not added yet might hold an earlier event: look before yielding this one
        await add(await discovery.discover(top === undefined));
        continue;
      }
      if (top === undefined) break;
      heap.pop();
      yield top.event;
      const next = await top.it.next();
      if (!next.done) heap.push({ it: top.it, event: next.value });
    }
    finished = true;
  } finally {
    if (!finished) {
      // the consumer stopped early (or an input failed): let every input release what it holds
      await Promise.all(iterators.map((it) => it.return?.(undefined)));
    }
  }
}
