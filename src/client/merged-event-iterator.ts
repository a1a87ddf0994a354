/**
 * Client-side merge of several recordings' event streams into one stream in timestamp
 * order (PROTOCOL.md "Reading channels over a UTC interval"): a k-way merge on
 * (utcNs, recordingId, position). Each input must itself be in that order, which a single
 * recording's stream is (UTC within a recording never goes backwards, positions grow).
 *
 * The merge only yields an event once every other open input has shown its next event (or
 * ended), so with live ("follow") inputs a quiet recording holds the others back until it
 * produces or stops. That is the price of a strict order.
 */
import type { RecordedEvent } from './types.js';

export function compareEvents(a: RecordedEvent, b: RecordedEvent): number {
  if (a.utcNs !== b.utcNs) return a.utcNs < b.utcNs ? -1 : 1;
  if (a.recordingId !== b.recordingId) return a.recordingId - b.recordingId;
  return a.position - b.position;
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

  iterators(): AsyncIterator<RecordedEvent>[] {
    return this.items.map((h) => h.it);
  }
}

export async function* mergeEvents(inputs: AsyncIterable<RecordedEvent>[]): AsyncGenerator<RecordedEvent, void, undefined> {
  const heap = new HeadHeap();
  const iterators = inputs.map((i) => i[Symbol.asyncIterator]());
  let finished = false;
  try {
    const firsts = await Promise.all(iterators.map((it) => it.next()));
    firsts.forEach((r, i) => {
      if (!r.done) heap.push({ it: iterators[i]!, event: r.value });
    });
    while (heap.size > 0) {
      const head = heap.pop()!;
      yield head.event;
      const next = await head.it.next();
      if (!next.done) heap.push({ it: head.it, event: next.value });
    }
    finished = true;
  } finally {
    if (!finished) {
      // the consumer stopped early: let every input release what it holds
      await Promise.all(iterators.map((it) => it.return?.(undefined)));
    }
  }
}
