/**
 * The native receive path of UdpSource: datagrams stay in the kernel's receive buffer (the
 * queue is SO_RCVBUF, so an overflow shows as kernel drops) until poll() pulls a batch with
 * one recvmmsg into a preallocated slab, one fixed-size slot per datagram, and hands each to
 * the handler straight from the slab: no Buffer and no callback per datagram.
 *
 * Receipt times: each datagram is dated at its arrival, not at the poll that took it. The
 * clocks are read once per batch (monotonic first, then the UTC derived from it); the addon
 * gives each datagram's age, measured by the kernel's receive stamp (SO_TIMESTAMPNS), and each
 * datagram gets (batch mono - age, batch UTC - age), so the gaps between datagrams are the
 * gaps between their arrivals. Neither time ever goes below the previous datagram's (a step of
 * the realtime clock between arrival and receipt cannot reorder them); a datagram without a
 * stamp gets the batch time (docs/ARCHITECTURE.md, "Receive timestamps").
 *
 * The slab has one 64 KiB slot per datagram of a batch so any UDP datagram fits; it is
 * allocated uninitialised, so only the pages the kernel writes become resident. A datagram
 * longer than its slot (a smaller slotSize) or than maxEventSize is counted as oversize and
 * skipped.
 *
 * Source addresses: the addon writes each datagram's source address and port, already in the
 * archive's compact encoding, into a per-batch array (one 20-byte record per datagram); the
 * handler gets it with the SOURCE_IPV4 / SOURCE_IPV6 flag and an offset into that array.
 *
 * Readiness: a one-shot watch calls onReadable when the socket turns readable; after poll()
 * finds the socket drained it re-arms the watch, so an idle recorder parks instead of spinning.
 */
import type { UdpNative, UdpWatch } from '../util/udp-native.js';
import { NATIVE_MAX_BATCH, NATIVE_SOURCE_RECORD } from '../util/udp-native.js';
import { sourceFlagOfLength } from '../util/source-address.js';
import type { SourceCounters, SourceEventHandler } from './source.js';

export interface BatchReceiverOptions {
  /** Bytes per slot; a longer datagram is oversize. Default 65,536 (any UDP datagram). */
  slotSize?: number;
  /** Datagrams per recvmmsg. Default 256. */
  batchSize?: number;
  /** Longest event accepted (longer: oversize). Default: slotSize. */
  maxEventSize?: number;
}

/** Takes both receipt times for one batch (mono first, then the UTC derived from it), read after the batch arrived. */
export type BatchStamp = (out: BigInt64Array) => void;

export class UdpBatchReceiver {
  private readonly slab: Buffer;
  private readonly lengths: Int32Array;
  private readonly ages: BigInt64Array;
  private readonly sources: Buffer;
  private lastMonoNs = -(1n << 62n);
  private lastUtcNs = -(1n << 62n);
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
    this.ages = new BigInt64Array(this.batchSize);
    this.sources = Buffer.alloc(this.batchSize * NATIVE_SOURCE_RECORD);
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
      const got = native.recvBatch(this.fd, this.slab, slot, want, this.lengths, this.ages, this.sources);
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
      const batchMonoNs = this.stampOut[0]!;
      const batchUtcNs = this.stampOut[1]!;
      const lengths = this.lengths;
      const ages = this.ages;
      const sources = this.sources;
      for (let i = 0; i < got; i++) {
        const len = lengths[i]!;
        if (len > this.maxEventSize) {
          this.counters.oversize++;
          continue;
        }
        const age = ages[i]!;
        let monoNs = age > 0n ? batchMonoNs - age : batchMonoNs;
        let utcNs = age > 0n ? batchUtcNs - age : batchUtcNs;
        if (monoNs < this.lastMonoNs) monoNs = this.lastMonoNs;
        if (utcNs < this.lastUtcNs) utcNs = this.lastUtcNs;
        this.lastMonoNs = monoNs;
        this.lastUtcNs = utcNs;
        this.counters.events++;
        this.counters.bytes += len;
        const s = i * NATIVE_SOURCE_RECORD;
        handler(this.slab, i * slot, len, utcNs, monoNs, sourceFlagOfLength(sources[s]!), sources, s + 2);
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
