/**
 * Outbound staging for one connection: frames are laid out back to back in a slab (a large
 * Buffer) and handed to the socket as one write per batch, so many small frames cost one
 * socket write rather than one each. A caller may encode straight into the slab
 * (`claim` + `commit`, as with Aeron's BufferClaim) instead of encoding elsewhere and copying.
 *
 * A region of the slab handed to the socket is never written again (the socket holds it until
 * the kernel has taken it): staging only moves forward, and a new slab is allocated when the
 * current one has no room left. An old slab is freed by the garbage collector once its last
 * write completes.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { FRAME_PREFIX, MIN_PAYLOAD } from './frame-decoder.js';

/** Default slab: 256 KiB, room for several 64 KiB batches (and >= 64 KiB, so codecs cache its view). */
export const DEFAULT_SLAB_BYTES = 256 * 1024;
/** Default batch: staged bytes are written once they reach 64 KiB. */
export const DEFAULT_BATCH_BYTES = 64 * 1024;

export class SendBuffer {
  private slab: Buffer;
  private stagedStart = 0;
  private stagedEnd = 0;
  /** start of the claimed frame (its prefix), -1 when nothing is claimed */
  private claimStart = -1;
  private claimMax = 0;

  constructor(
    readonly maxFrameLength: number,
    private readonly slabBytes = DEFAULT_SLAB_BYTES,
  ) {
    this.slab = Buffer.allocUnsafe(slabBytes);
  }

  /** The buffer the last `claim` points into (valid until `commit`). */
  get buffer(): Buffer {
    return this.slab;
  }

  /** Bytes staged and not yet taken by `take()`. */
  get staged(): number {
    return this.stagedEnd - this.stagedStart;
  }

  get claimed(): boolean {
    return this.claimStart >= 0;
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
    if (this.slab.length - this.stagedEnd < need) {
      const pending = this.take();
      if (pending) flush(pending);
      this.slab = Buffer.allocUnsafe(Math.max(this.slabBytes, need));
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
    this.slab.writeUInt32LE(length, this.claimStart);
    this.stagedEnd = this.claimStart + FRAME_PREFIX + length;
    this.claimStart = -1;
  }

  /** Drops a claim without sending anything. */
  abort(): void {
    this.claimStart = -1;
  }

  /** The staged bytes as one Buffer (a view of the slab), or undefined when none; they are no longer staged. */
  take(): Buffer | undefined {
    if (this.stagedEnd === this.stagedStart) return undefined;
    const bytes = this.slab.subarray(this.stagedStart, this.stagedEnd);
    this.stagedStart = this.stagedEnd;
    return bytes;
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
