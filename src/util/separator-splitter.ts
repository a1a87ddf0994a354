/**
 * Streaming split of a byte stream into events at a (possibly multi-byte) separator.
 *
 * Chunks arrive in any sizes; a separator may be split across two or more chunks. Events
 * lying wholly inside a chunk are handed out as views of that chunk (no copy, no allocation);
 * only an event that spans chunks is assembled in a carry buffer. A record longer than
 * maxEventSize is never cut: it is skipped up to its separator and reported (onOversize with
 * its full length, and counted). At end of input, finish() emits a trailing event that has
 * no separator.
 *
 * Pull-style: feed(chunk) then drain(handler, limit) until hasInput is false, so a duty cycle
 * can stop after `limit` events and resume later. push() does both for callers with no limit.
 * Views handed to the handler are valid only during the call.
 */

export type SplitHandler = (buffer: Buffer, offset: number, length: number) => void;

export interface SeparatorSplitterOptions {
  /** Longest event accepted, in bytes (default 1 MiB). */
  maxEventSize?: number;
  /** Called with the full length of each record that was too long and skipped. */
  onOversize?: (length: number) => void;
}

const INITIAL_CARRY = 16 * 1024;

export class SeparatorSplitter {
  readonly separator: Buffer;
  readonly maxEventSize: number;
  private readonly sepLen: number;
  /** The separator as a byte when it is one byte long (number search is faster), else -1. */
  private readonly sepByte: number;
  private readonly onOversize: ((length: number) => void) | undefined;

  private chunk: Buffer | undefined;
  private pos = 0;
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  /** Inside a record already known to be too long: carry holds only its last sepLen-1 bytes. */
  private discarding = false;
  private discardedBytes = 0;
  /** Set by the slow path: length of a completed event waiting in carry, else -1. */
  private emitLen = -1;

  /** Events emitted so far. */
  events = 0;
  /** Records skipped because they exceeded maxEventSize. */
  oversize = 0;

  constructor(separator: Uint8Array, options: SeparatorSplitterOptions = {}) {
    if (separator.length === 0) throw new RangeError('separator must not be empty');
    this.separator = Buffer.from(separator);
    this.sepLen = this.separator.length;
    this.sepByte = this.sepLen === 1 ? this.separator[0]! : -1;
    this.maxEventSize = options.maxEventSize ?? 1024 * 1024;
    if (!(this.maxEventSize >= 1) || !Number.isInteger(this.maxEventSize)) throw new RangeError('maxEventSize must be an integer >= 1');
    this.onOversize = options.onOversize;
  }

  /** True while the chunk given to feed() has bytes drain() has not looked at yet. */
  get hasInput(): boolean {
    return this.chunk !== undefined;
  }

  /** Bytes held from the start of an unfinished event (or of a skipped oversize record). */
  get pendingBytes(): number {
    return this.discardedBytes + this.carryLen;
  }

  /** Give the next chunk. The previous one must have been drained (hasInput false). */
  feed(chunk: Buffer): void {
    if (this.chunk !== undefined) throw new Error('SeparatorSplitter.feed: previous chunk not drained');
    if (chunk.length === 0) return;
    this.chunk = chunk;
    this.pos = 0;
  }

  /** Emit up to limit events from the fed chunk; returns how many were emitted. */
  drain(handler: SplitHandler, limit = Number.POSITIVE_INFINITY): number {
    const chunk = this.chunk;
    if (chunk === undefined) return 0;
    const end = chunk.length;
    const sepLen = this.sepLen;
    const max = this.maxEventSize;
    let pos = this.pos;
    let n = 0;
    let fast = 0; // events emitted by the fast path (the slow path counts its own)
    try {
      while (n < limit && pos < end) {
        if (this.carryLen === 0 && !this.discarding) {
          const j = this.sepByte >= 0 ? chunk.indexOf(this.sepByte, pos) : chunk.indexOf(this.separator, pos);
          if (j < 0) {
            this.append(chunk, pos, end);
            pos = end;
            break;
          }
          const start = pos;
          pos = j + sepLen; // advanced first: an event whose handler throws is not re-emitted
          if (j - start > max) {
            this.reportOversize(j - start);
          } else {
            n++;
            fast++;
            handler(chunk, start, j - start);
          }
        } else {
          pos = this.continuePending(chunk, pos, end);
          if (this.emitLen >= 0) {
            const len = this.emitLen;
            this.emitLen = -1;
            this.events++;
            n++;
            handler(this.carry, 0, len);
          }
        }
      }
    } finally {
      // also when the handler throws: what it was given counts as consumed
      this.events += fast;
      this.pos = pos;
      if (pos >= end) this.chunk = undefined;
    }
    return n;
  }

  /** feed + drain everything. */
  push(chunk: Buffer, handler: SplitHandler): number {
    this.feed(chunk);
    return this.drain(handler);
  }

  /**
   * End of input: drains what is left, then emits the trailing event that has no separator
   * (or reports it if too long). The splitter is then empty and can be reused.
   */
  finish(handler: SplitHandler): number {
    let n = this.drain(handler);
    if (this.discarding) {
      const total = this.discardedBytes + this.carryLen;
      this.clearPending();
      this.reportOversize(total);
    } else if (this.carryLen > 0) {
      const len = this.carryLen;
      this.clearPending();
      if (len > this.maxEventSize) {
        this.reportOversize(len);
      } else {
        this.events++;
        n++;
        handler(this.carry, 0, len);
      }
    }
    return n;
  }

  /** Forget the fed chunk and any partial event (e.g. the input was truncated and restarts). */
  reset(): void {
    this.chunk = undefined;
    this.pos = 0;
    this.clearPending();
  }

  /** Slow path: an event started in an earlier chunk. Returns the new position in chunk. */
  private continuePending(chunk: Buffer, pos: number, end: number): number {
    const sepLen = this.sepLen;
    // A separator may straddle the carry and this chunk: search the carry's last sepLen-1
    // bytes together with this chunk's first sepLen-1 bytes.
    if (sepLen > 1 && this.carryLen > 0) {
      const h = Math.min(sepLen - 1, end - pos);
      this.ensureCapacity(this.carryLen + h);
      chunk.copy(this.carry, this.carryLen, pos, pos + h);
      const from = Math.max(0, this.carryLen - (sepLen - 1));
      const i = this.carry.subarray(0, this.carryLen + h).indexOf(this.separator, from);
      if (i >= 0) {
        const next = pos + (i + sepLen - this.carryLen);
        this.completePending(i);
        return next;
      }
    }
    const j = this.sepByte >= 0 ? chunk.indexOf(this.sepByte, pos) : chunk.indexOf(this.separator, pos);
    if (j < 0) {
      this.append(chunk, pos, end);
      return end;
    }
    const add = j - pos;
    if (!this.discarding && this.carryLen + add <= this.maxEventSize) {
      this.ensureCapacity(this.carryLen + add);
      chunk.copy(this.carry, this.carryLen, pos, j);
      this.completePending(this.carryLen + add);
    } else {
      this.discarding = true;
      this.discardedBytes += add;
      this.completePending(this.carryLen);
    }
    return j + sepLen;
  }

  /** The pending event ends after `len` bytes of carry: mark it for emission (or report it). */
  private completePending(len: number): void {
    const oversize = this.discarding || len > this.maxEventSize;
    const total = this.discardedBytes + len;
    this.clearPending();
    if (oversize) this.reportOversize(total);
    else this.emitLen = len;
  }

  /** Keep chunk[pos, end) as the start of an unfinished event. */
  private append(chunk: Buffer, pos: number, end: number): void {
    const sepLen = this.sepLen;
    const add = end - pos;
    const newLen = this.carryLen + add;
    // Up to sepLen-1 extra bytes may be the start of the separator, not event bytes.
    if (!this.discarding && newLen <= this.maxEventSize + sepLen - 1) {
      this.ensureCapacity(newLen);
      chunk.copy(this.carry, this.carryLen, pos, end);
      this.carryLen = newLen;
      return;
    }
    // Too long already: keep only the tail that may hold a separator's beginning.
    this.discarding = true;
    const t = Math.min(sepLen - 1, newLen);
    const fromChunk = Math.min(t, add);
    const fromCarry = t - fromChunk;
    this.ensureCapacity(t);
    if (fromCarry > 0) this.carry.copyWithin(0, this.carryLen - fromCarry, this.carryLen);
    chunk.copy(this.carry, fromCarry, end - fromChunk, end);
    this.discardedBytes += newLen - t;
    this.carryLen = t;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.carry.length) return;
    let cap = Math.max(INITIAL_CARRY, this.carry.length);
    while (cap < n) cap *= 2;
    cap = Math.min(cap, this.maxEventSize + 2 * this.sepLen);
    if (cap < n) cap = n;
    const next = Buffer.allocUnsafe(cap);
    this.carry.copy(next, 0, 0, this.carryLen);
    this.carry = next;
  }

  private clearPending(): void {
    this.carryLen = 0;
    this.discarding = false;
    this.discardedBytes = 0;
  }

  private reportOversize(length: number): void {
    this.oversize++;
    if (this.onOversize) this.onOversize(length);
  }
}
