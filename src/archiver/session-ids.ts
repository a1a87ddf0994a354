/**
 * Control session ids that cannot be guessed and are never reused within one archiver run.
 *
 * A session id is what a request names its session by, so sequential ids let any socket guess
 * its neighbours' (the session is also bound to its client's address, control-sessions.ts; an
 * unguessable id is the second fence). Drawing random ids and remembering every one issued
 * would grow without bound in a long run, so ids are a keyed pseudo-random permutation of a
 * counter instead: a 4-round Feistel network over 54 bits (two 27-bit halves, HMAC-SHA256
 * rounds under a key drawn at start-up), restricted to 1 .. 2^53-1 by cycle walking. A
 * permutation of a counter that never repeats never repeats either, and without the key the
 * next id cannot be told from the previous ones.
 */
import { createHmac, randomBytes } from 'node:crypto';

const HALF_BITS = 27;
const HALF = 2 ** HALF_BITS;
const HALF_MASK = HALF - 1;
/** hi < 2^26 keeps hi * 2^27 + lo below 2^53. */
const HI_LIMIT = 2 ** (53 - HALF_BITS);
const ROUNDS = 4;

export class SessionIdGenerator {
  private counter = 0;
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  /** The next id: an integer in 1 .. 2^53-1, distinct from every id this generator gave. */
  next(): number {
    this.counter++;
    if (this.counter >= Number.MAX_SAFE_INTEGER) throw new Error('session ids exhausted');
    let hi = Math.floor(this.counter / HALF);
    let lo = this.counter % HALF;
    // cycle walking: apply the permutation until the value falls inside 1 .. 2^53-1
    do {
      [hi, lo] = this.permute(hi, lo);
    } while (hi >= HI_LIMIT || (hi === 0 && lo === 0));
    return hi * HALF + lo;
  }

  private permute(hi: number, lo: number): [number, number] {
    let l = hi;
    let r = lo;
    for (let round = 0; round < ROUNDS; round++) {
      const f = this.round(round, r);
      [l, r] = [r, (l ^ f) & HALF_MASK];
    }
    return [l, r];
  }

  private round(round: number, value: number): number {
    const input = Buffer.allocUnsafe(5);
    input.writeUInt8(round, 0);
    input.writeUInt32LE(value >>> 0, 1);
    return createHmac('sha256', this.key).update(input).digest().readUInt32LE(0) & HALF_MASK;
  }
}
