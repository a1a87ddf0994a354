/**
 * The native receive path of UdpSource: datagrams stay in the kernel's receive buffer (the
 * queue is SO_RCVBUF, so an overflow shows as kernel drops) until poll() pulls a batch with
 * one recvmmsg into a preallocated slab, one fixed-size slot per datagram, and hands each to
 * the handler straight from the slab: no Buffer and no callback per datagram. The receipt
 * clocks are read once per batch; every datagram of a batch gets that time.
 *
 * The slab has one 64 KiB slot per datagram of a batch so any UDP datagram fits; it is
 * allocated uninitialised, so only the pages the kernel writes become resident. A datagram
 * longer than its slot (a smaller slotSize) or than maxEventSize is counted as oversize and
 * skipped.
 *
 * Readiness: a one-shot watch calls onReadable when the socket turns readable; after poll()
 * finds the socket drained it re-arms the watch, so an idle recorder parks instead of spinning.
 */
import type { UdpNative, UdpWatch } from '../util/udp-native.js';
import { NATIVE_MAX_BATCH } from '../util/udp-native.js';
import type { SourceCounters, SourceEventHandler } from './source.js';

export interface BatchReceiverOptions {
  /** Bytes per slot; a longer datagram is oversize. Default 65,536 (any UDP datagram). */
  slotSize?: number;
  /** Datagrams per recvmmsg. Default 256. */
  batchSize?: number;
  /** Longest event accepted (longer: oversize). Default: slotSize. */
  maxEventSize?: number;
}

/** Takes both receipt times for one batch (mono first, then the UTC derived from it). */
export type BatchStamp = (out: BigInt64Array) => void;

export class UdpBatchReceiver {
  private readonly slab: Buffer;
  private readonly lengths: Int32Array;
  private readonly slotSize: number;
  private readonly batchSize: number;
  private readonly maxEventSize: number;
  private readonly stampOut = new BigInt64Array(2);
  private watchHandle: UdpWatch | undefined;
  private armed = true;
  private closed = false;
  /** The last negative errno recvmmsg returned (0: none yet). */
  lastErrno = 0;

  constructor(
    private readonly native: UdpNative,
    readonly fd: number,
    private readonly counters: SourceCounters,
    private readonly stamp: BatchStamp,
    onReadable: () => void,
    options: BatchReceiverOptions = {},
  ) {
    this.slotSize = Math.max(1, options.slotSize ?? 65_536);
    this.batchSize = Math.min(NATIVE_MAX_BATCH, Math.max(1, options.batchSize ?? 256));
    this.maxEventSize = Math.min(this.slotSize, options.maxEventSize ?? this.slotSize);
    this.slab = Buffer.allocUnsafeSlow(this.slotSize * this.batchSize);
    this.lengths = new Int32Array(this.batchSize);
    this.watchHandle = native.watch(fd, () => {
      this.armed = false;
      onReadable();
    });
  }

  /** Hands up to `limit` datagrams to handler; returns datagrams consumed (oversize included). */
  poll(handler: SourceEventHandler, limit: number): number {
    if (this.closed) return 0;
    let n = 0;
    const native = this.native;
    const slot = this.slotSize;
    while (n < limit) {
      const want = Math.min(limit - n, this.batchSize);
      const got = native.recvBatch(this.fd, this.slab, slot, want, this.lengths);
      if (got < 0) {
        this.lastErrno = -got;
        this.counters.errors++;
        this.rearm();
        break;
      }
      if (got === 0) {
        this.rearm();
        break;
      }
      this.stamp(this.stampOut);
      const monoNs = this.stampOut[0]!;
      const utcNs = this.stampOut[1]!;
      const lengths = this.lengths;
      for (let i = 0; i < got; i++) {
        const len = lengths[i]!;
        if (len > this.maxEventSize) {
          this.counters.oversize++;
          continue;
        }
        this.counters.events++;
        this.counters.bytes += len;
        handler(this.slab, i * slot, len, utcNs, monoNs);
      }
      n += got;
      if (got < want) {
        // drained for now: be told when more comes
        this.rearm();
        break;
      }
    }
    return n;
  }

  private rearm(): void {
    if (this.armed || this.watchHandle === undefined) return;
    this.armed = true;
    this.native.arm(this.watchHandle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watchHandle !== undefined) this.native.unwatch(this.watchHandle);
    this.watchHandle = undefined;
    this.native.close(this.fd);
  }
}
