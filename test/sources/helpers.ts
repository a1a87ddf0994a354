import type { Source } from '../../src/sources/index.js';
import type { ManualClock } from '../../src/util/clock.js';
import { decodeSource, sourceLength, type EventSource } from '../../src/util/source-address.js';

export interface Collected {
  payloads: Buffer[];
  utc: bigint[];
  mono: bigint[];
  flags: number[];
  /** The datagram's source address and port, when the event came with one. */
  sources: (EventSource | undefined)[];
}

export type Handler = (b: Buffer, o: number, l: number, u: bigint, m: bigint, f?: number, src?: Uint8Array, srcOff?: number) => void;

export function collector(): Collected & { handler: Handler } {
  const c: Collected = { payloads: [], utc: [], mono: [], flags: [], sources: [] };
  return {
    ...c,
    handler: (b, o, l, u, m, f = 0, src, srcOff = 0) => {
      c.payloads.push(Buffer.from(b.subarray(o, o + l)));
      c.utc.push(u);
      c.mono.push(m);
      c.flags.push(f);
      const n = sourceLength(f);
      c.sources.push(n > 0 && src ? decodeSource(src, srcOff, n) : undefined);
    },
  };
}

export const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Poll the source (as a duty cycle would) until cond() holds, letting I/O callbacks run in
 * between. The manual clock, if given, is stepped each round so time-driven steps (follow
 * checks, /proc refresh) happen without waiting. Fails after `maxRounds` (not a sleep: a
 * guard against a hang).
 */
export async function pollUntil(
  source: Source,
  handler: Handler,
  cond: () => boolean,
  opts: { clock?: ManualClock; stepNs?: bigint; limit?: number; maxRounds?: number } = {},
): Promise<void> {
  const max = opts.maxRounds ?? 200_000;
  for (let i = 0; i < max; i++) {
    source.poll(handler, opts.limit ?? 100);
    if (cond()) return;
    opts.clock?.advanceNs(opts.stepNs ?? 1_000_000n);
    await nextTick();
  }
  throw new Error(`condition not reached after ${max} poll rounds`);
}
