/**
 * Outbound staging for one connection: frames are laid out back to back in a slab (a large
 * Buffer) and handed to the socket as one write per batch, so many small frames cost one
 * socket write rather than one each. A caller may encode straight into the slab
 * (`claim` + `commit`, as with Aeron's BufferClaim) instead of encoding elsewhere and copying.
 *
 * Slabs are reused. Ownership rule: a region handed out by `take()` belongs to the socket
 * until the socket has written it, i.e. until the bytes handed out after it are all that the
 * socket still buffers (`unwritten()`, the socket's `writableLength`: a write leaves it when
 * its write completes, in order). A slab is free again once every region handed out of it is
 * written; it is never written while any of it is still the socket's. When the current slab
 * has no room left, the next one is a free slab big enough (the current one first, rewound to
 * its start), else a new one, kept for reuse while the slabs kept stay within `maxPooledBytes`.
 * So a connection whose peer keeps up writes every frame into the same warm memory, and one
 * that is backed up holds at most its bytes in flight (bounded by the high-water mark) in
 * slabs, as before, without allocating a slab per message (a fresh 1 MiB slab per Frames
 * message cost ~16x a reused one in page faults and zeroing, and drove the GC: REPLICATION.md §11).
 * Without `unwritten` nothing is known to be written, and every new slab is a fresh one.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { FRAME_PREFIX, MIN_PAYLOAD } from './frame-decoder.js';

/** Default slab: 256 KiB, room for several 64 KiB batches (and >= 64 KiB, so codecs cache its view). */
export const DEFAULT_SLAB_BYTES = 256 * 1024;
/** Default batch: staged bytes are written once they reach 64 KiB. */
export const DEFAULT_BATCH_BYTES = 64 * 1024;

interface Slab {
  readonly buffer: Buffer;
  /** where (in bytes handed out so far) the last region handed out of this slab ends */
  busyUntil: number;
}

export interface SendBufferOptions {
  /** size of a slab (larger only for a frame that needs more), default DEFAULT_SLAB_BYTES */
  slabBytes?: number;
  /** bytes handed out by take() that the socket has not written yet (its writableLength); without it slabs are not reused */
  unwritten?: () => number;
  /** slabs kept for reuse, in bytes (the current one included), default 8 MiB */
  maxPooledBytes?: number;
}

export class SendBuffer {
  private current: Slab;
  /** slabs kept for reuse (the current one among them, unless it was too big to keep) */
  private readonly pool: Slab[] = [];
  private pooledBytes = 0;
  private stagedStart = 0;
  private stagedEnd = 0;
  /** bytes handed out by take(), ever */
  private handed = 0;
  /** start of the claimed frame (its prefix), -1 when nothing is claimed */
  private claimStart = -1;
  private claimMax = 0;
  private readonly slabBytes: number;
  private readonly unwritten: (() => number) | undefined;
  private readonly maxPooledBytes: number;
  /** slabs allocated so far (the first included) */
  allocations = 0;

  constructor(
    readonly maxFrameLength: number,
    options: SendBufferOptions = {},
  ) {
    this.slabBytes = options.slabBytes ?? DEFAULT_SLAB_BYTES;
    this.unwritten = options.unwritten;
    this.maxPooledBytes = options.maxPooledBytes ?? 8 * 1024 * 1024;
    this.current = this.allocate(this.slabBytes);
  }

  /** The buffer the last `claim` points into (valid until `commit`). */
  get buffer(): Buffer {
    return this.current.buffer;
  }

  /** Bytes staged and not yet taken by `take()`. */
  get staged(): number {
    return this.stagedEnd - this.stagedStart;
  }

  get claimed(): boolean {
    return this.claimStart >= 0;
  }

  /** Slabs kept for reuse and their bytes (stats, tests). */
  get pooled(): { slabs: number; bytes: number } {
    return { slabs: this.pool.length, bytes: this.pooledBytes };
  }

  /**
   * Reserves room for a payload of up to `maxLength` bytes and returns the offset in `buffer`
   * where the payload goes. `commit(length)` ends the claim. When the slab is full the staged
   * bytes are handed to `flush` first (the caller writes them to the socket).
   */
  claim(maxLength: number, flush: (bytes: Buffer) => void): number {
    if (this.claimStart >= 0) throw new VcrError(ErrorCode.GENERIC, 'a frame is already claimed and not committed');
    checkLength(maxLength, this.maxFrameLength);
    const need = FRAME_PREFIX + maxLength;
    if (this.stagedEnd > 0 && this.stagedStart === this.stagedEnd && this.unwritten && this.isFree(this.current, this.written())) {
      this.stagedStart = this.stagedEnd = 0; // nothing staged, all of it written: start over in warm memory
    }
    if (this.current.buffer.length - this.stagedEnd < need) {
      const pending = this.take();
      if (pending) flush(pending);
      this.current = this.nextSlab(need);
      this.stagedStart = 0;
      this.stagedEnd = 0;
    }
    this.claimStart = this.stagedEnd;
    this.claimMax = maxLength;
    return this.stagedEnd + FRAME_PREFIX;
  }

  /** Ends the claim: the payload is `length` bytes (at most what was claimed; default all of it). */
  commit(length: number = this.claimMax): void {
    if (this.claimStart < 0) throw new VcrError(ErrorCode.GENERIC, 'commit without a claim');
    if (!Number.isInteger(length) || length < MIN_PAYLOAD || length > this.claimMax) {
      const claimStart = this.claimStart;
      this.claimStart = -1;
      this.stagedEnd = claimStart;
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `committed frame length ${length} must be from ${MIN_PAYLOAD} to the ${this.claimMax} bytes claimed`);
    }
    this.current.buffer.writeUInt32LE(length, this.claimStart);
    this.stagedEnd = this.claimStart + FRAME_PREFIX + length;
    this.claimStart = -1;
  }

  /** Drops a claim without sending anything. */
  abort(): void {
    this.claimStart = -1;
  }

  /**
   * The staged bytes as one Buffer (a view of the slab), or undefined when none; they are no
   * longer staged, and belong to the socket until it has written them (see the class comment).
   */
  take(): Buffer | undefined {
    if (this.stagedEnd === this.stagedStart) return undefined;
    const bytes = this.current.buffer.subarray(this.stagedStart, this.stagedEnd);
    this.stagedStart = this.stagedEnd;
    this.handed += bytes.length;
    this.current.busyUntil = this.handed;
    return bytes;
  }

  /** Bytes handed out that the socket has written (-1: unknown, nothing is reused). */
  private written(): number {
    return this.unwritten ? this.handed - this.unwritten() : -1;
  }

  private isFree(slab: Slab, written: number): boolean {
    return slab.busyUntil <= written;
  }

  /** A free slab of at least `need` bytes (the current one first), else a new one. */
  private nextSlab(need: number): Slab {
    const written = this.written();
    if (written >= 0) {
      if (this.current.buffer.length >= need && this.isFree(this.current, written)) return this.current;
      for (const s of this.pool) if (s !== this.current && s.buffer.length >= need && this.isFree(s, written)) return s;
    }
    const size = Math.max(this.slabBytes, need);
    if (this.unwritten) {
      // free slabs too small for frames of this size are dropped: the pool converges on slabs that fit
      for (let i = this.pool.length - 1; i >= 0; i--) {
        const s = this.pool[i]!;
        if (s.buffer.length < size && this.isFree(s, written)) {
          this.pool.splice(i, 1);
          this.pooledBytes -= s.buffer.length;
        }
      }
    }
    return this.allocate(size);
  }

  private allocate(size: number): Slab {
    const slab: Slab = { buffer: Buffer.allocUnsafe(size), busyUntil: -1 };
    this.allocations++;
    if (this.unwritten && this.pooledBytes + size <= this.maxPooledBytes) {
      this.pool.push(slab);
      this.pooledBytes += size;
    }
    return slab;
  }
}

export function checkLength(length: number, maxFrameLength: number): void {
  if (!Number.isInteger(length) || length < MIN_PAYLOAD || length > maxFrameLength) {
    throw new VcrError(
      length > maxFrameLength ? ErrorCode.REQUEST_TOO_LARGE : ErrorCode.INVALID_ARGUMENT,
      `frame payload of ${length} bytes: must be from ${MIN_PAYLOAD} to ${maxFrameLength} bytes`,
    );
  }
}
