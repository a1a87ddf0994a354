/**
 * One datagram = one event, received by one of two paths. With the native addon (default
 * when it loads, IPv4; see util/udp-native.ts) datagrams wait in the kernel's receive buffer
 * and poll() pulls them in batches (udp-batch-receiver.ts). Otherwise, node:dgram: the socket's 'message' callback only stamps the receipt times and
 * puts the datagram in a bounded ring (full ring: drop and count, never grow); poll() hands
 * them out. Kernel drops come from /proc/net/udp for this socket's inode, re-read (async) at
 * most every dropsRefreshNs, driven from poll().
 *
 * Each event carries its datagram's source address and port (flag SOURCE_IPV4 or SOURCE_IPV6,
 * the bytes encoded as src/util/source-address.ts says): the native path gets them from
 * recvmmsg's msg_name, the dgram path from rinfo, encoded into a per-slot array of the ring (the
 * last sender's encoding is kept, so a steady sender costs a string compare and a copy).
 */
import dgram, { type RemoteInfo } from 'node:dgram';
import { readFile, readFileSync } from 'node:fs';
import { ErrorCode, VcrError } from '../util/errors.js';
import { MonotonicUtcClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { newSourceCounters, SourceState, type Source, type SourceCounters, type SourceEventHandler } from './source.js';
import { formatUdpSourceUri, type UdpSourceSpec } from './uri.js';
import { findSocketInode, ownSocketInodes, parseProcNetUdp } from './proc-net-udp.js';
import { udpNative, type UdpNative } from '../util/udp-native.js';
import { UdpBatchReceiver } from './udp-batch-receiver.js';
import { SOURCE_MAX_LENGTH, encodeSource } from '../util/source-address.js';

export interface UdpSourceOptions {
  nanoClock?: NanoClock;
  utcClock?: EpochNanoClock;
  /** Requested SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max). Default 8 MiB. */
  recvBufferSize?: number;
  /** Most datagrams held between polls. Default 65,536. */
  queueCapacity?: number;
  /** Most payload bytes held between polls. Default 64 MiB. */
  maxQueueBytes?: number;
  /** How often to re-read /proc/net/udp for kernel drops. Default 1 s. */
  dropsRefreshNs?: bigint;
  /**
   * Use the native batched receive path: undefined = when the addon loads (and
   * VCR_UDP_NATIVE is not 0), false = always node:dgram, true = require it (open fails
   * with SOURCE_FAILED if it is unavailable). IPv6 sources always use node:dgram.
   */
  native?: boolean;
  /** Native path: bytes per datagram slot (longer datagrams are oversize). Default 65,536. */
  slotSize?: number;
  /** Native path: datagrams per recvmmsg. Default 256. */
  batchSize?: number;
}

export class UdpSource implements Source {
  readonly kind = 'udp' as const;
  readonly uri: string;
  readonly counters: SourceCounters = newSourceCounters();
  onAvailable: (() => void) | undefined;
  private stateValue: SourceState = SourceState.INIT;
  private error: Error | undefined;
  private socket: dgram.Socket | undefined;
  private readonly nanoClock: NanoClock;
  private readonly utcClock: EpochNanoClock;
  /** utcClock derives UTC from nanoClock: one clock read per datagram instead of two. */
  private readonly monoUtc: MonotonicUtcClock | undefined;
  private readonly recvBufferSize: number;
  private readonly capacity: number;
  private readonly maxQueueBytes: number;
  private readonly dropsRefreshNs: bigint;
  private readonly bufs: (Buffer | undefined)[];
  private readonly utcs: BigInt64Array;
  private readonly monos: BigInt64Array;
  /** Per ring slot: the encoded source address (SOURCE_MAX_LENGTH bytes of room) and its flag. */
  private readonly srcBytes: Uint8Array;
  private readonly srcFlags: Uint8Array;
  /** The last sender seen by onMessage and its encoding (most streams have one sender). */
  private lastAddress = '';
  private lastPort = -1;
  private lastFlag = 0;
  private readonly lastSource = new Uint8Array(SOURCE_MAX_LENGTH);
  private head = 0;
  private count = 0;
  private queuedBytes = 0;
  private inode: number | undefined;
  private nextDropsCheckNs = 0n;
  private dropsReadInFlight = false;
  private actualRecvBufferSize = 0;
  private port = 0;
  private readonly nativeChoice: boolean | undefined;
  private readonly slotSize: number | undefined;
  private readonly batchSize: number | undefined;
  private batch: UdpBatchReceiver | undefined;

  constructor(
    readonly spec: UdpSourceSpec,
    options: UdpSourceOptions = {},
  ) {
    this.uri = spec.uri;
    this.nanoClock = options.nanoClock ?? systemNanoClock;
    this.utcClock = options.utcClock ?? new MonotonicUtcClock(this.nanoClock);
    const u = this.utcClock;
    this.monoUtc = u instanceof MonotonicUtcClock && u.mono === this.nanoClock ? u : undefined;
    this.recvBufferSize = options.recvBufferSize ?? 8 * 1024 * 1024;
    this.capacity = Math.max(1, options.queueCapacity ?? 65_536);
    this.maxQueueBytes = Math.max(1, options.maxQueueBytes ?? 64 * 1024 * 1024);
    this.dropsRefreshNs = options.dropsRefreshNs ?? 1_000_000_000n;
    this.nativeChoice = options.native;
    this.slotSize = options.slotSize;
    this.batchSize = options.batchSize;
    this.bufs = new Array<Buffer | undefined>(this.capacity).fill(undefined);
    this.utcs = new BigInt64Array(this.capacity);
    this.monos = new BigInt64Array(this.capacity);
    this.srcBytes = new Uint8Array(this.capacity * SOURCE_MAX_LENGTH);
    this.srcFlags = new Uint8Array(this.capacity);
  }

  get state(): SourceState {
    return this.stateValue;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** The bound port (useful with port 0). */
  get localPort(): number {
    return this.port;
  }

  /** SO_RCVBUF as the kernel granted it. */
  get receiveBufferSize(): number {
    return this.actualRecvBufferSize;
  }

  /** Whether kernel drops can be read for this socket (Linux, socket found in /proc). */
  get kernelDropsAvailable(): boolean {
    return this.inode !== undefined;
  }

  /** Datagrams waiting for poll() in the dgram path's queue (native path: 0, they wait in the kernel). */
  get queued(): number {
    return this.count;
  }

  /** Whether this source receives through the native batched path. */
  get usesNative(): boolean {
    return this.batch !== undefined;
  }

  open(): Promise<void> {
    if (this.stateValue !== SourceState.INIT) return Promise.reject(new Error(`${this.uri}: already opened`));
    this.stateValue = SourceState.OPENING;
    const spec = this.spec;
    const native = this.nativeChoice === false || spec.family === 6 ? undefined : udpNative();
    if (native) return this.openNative(native);
    if (this.nativeChoice === true) {
      this.fail(new Error('the native UDP addon is not available'), 'cannot open');
      return Promise.reject(this.error);
    }
    const type = spec.family === 6 ? 'udp6' : 'udp4';
    return new Promise<void>((resolve, reject) => {
      let sock: dgram.Socket;
      try {
        sock = dgram.createSocket({ type, reuseAddr: spec.multicast });
      } catch (e) {
        this.fail(e, 'cannot create socket');
        reject(this.error);
        return;
      }
      this.socket = sock;
      const before = ownSocketInodes();
      const onBindError = (e: Error): void => {
        this.fail(e, `cannot bind ${spec.host}:${spec.port}`);
        try {
          sock.close();
        } catch {
          // already closed
        }
        reject(this.error);
      };
      sock.once('error', onBindError);
      sock.on('message', this.onMessage);
      sock.bind({ port: spec.port, address: spec.host, exclusive: !spec.multicast }, () => {
        sock.off('error', onBindError);
        sock.on('error', (e) => this.recordError(e));
        try {
          if (spec.multicast) sock.addMembership(spec.host, spec.interface);
        } catch (e) {
          onBindError(e as Error);
          return;
        }
        try {
          sock.setRecvBufferSize(this.recvBufferSize);
        } catch {
          // capped or refused: keep the default; receiveBufferSize shows what we have
        }
        try {
          this.actualRecvBufferSize = sock.getRecvBufferSize();
        } catch {
          this.actualRecvBufferSize = 0;
        }
        this.port = sock.address().port;
        this.locateInode(before);
        this.stateValue = SourceState.ACTIVE;
        resolve();
      });
    });
  }

  private openNative(native: UdpNative): Promise<void> {
    const spec = this.spec;
    const before = ownSocketInodes();
    let fd: number;
    try {
      fd = native.open(spec.host, spec.port, this.recvBufferSize, spec.multicast ? spec.host : null, spec.interface ?? null);
    } catch (e) {
      this.fail(e, `cannot bind ${spec.host}:${spec.port}`);
      return Promise.reject(this.error);
    }
    try {
      this.port = native.localPort(fd);
      this.actualRecvBufferSize = native.bufferSizes(fd)[0];
      const mono = this.nanoClock;
      const monoUtc = this.monoUtc;
      const utc = this.utcClock;
      this.batch = new UdpBatchReceiver(
        native,
        fd,
        this.counters,
        (out) => {
          const m = mono.nanoTime();
          out[0] = m;
          out[1] = monoUtc ? monoUtc.epochNanosAt(m) : utc.epochNanos();
        },
        () => this.onAvailable?.(),
        { slotSize: this.slotSize, batchSize: this.batchSize },
      );
    } catch (e) {
      native.close(fd);
      this.fail(e, `cannot set up ${spec.host}:${spec.port}`);
      return Promise.reject(this.error);
    }
    this.locateInode(before);
    this.stateValue = SourceState.ACTIVE;
    return Promise.resolve();
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const monoNs = this.nanoClock.nanoTime();
    const utcNs = this.monoUtc ? this.monoUtc.epochNanosAt(monoNs) : this.utcClock.epochNanos();
    if (this.count >= this.capacity || this.queuedBytes + msg.length > this.maxQueueBytes) {
      this.counters.queueDrops++;
      return;
    }
    let i = this.head + this.count;
    if (i >= this.capacity) i -= this.capacity;
    this.bufs[i] = msg;
    this.utcs[i] = utcNs;
    this.monos[i] = monoNs;
    if (rinfo.address !== this.lastAddress || rinfo.port !== this.lastPort) {
      this.lastAddress = rinfo.address;
      this.lastPort = rinfo.port;
      this.lastFlag = encodeSource(rinfo.address, rinfo.port, this.lastSource, 0);
    }
    this.srcFlags[i] = this.lastFlag;
    this.srcBytes.set(this.lastSource, i * SOURCE_MAX_LENGTH);
    this.count++;
    this.queuedBytes += msg.length;
    if (this.count === 1) this.onAvailable?.();
  };

  poll(handler: SourceEventHandler, limit: number): number {
    if (this.stateValue !== SourceState.ACTIVE) return 0;
    if (this.inode !== undefined && !this.dropsReadInFlight && this.nanoClock.nanoTime() >= this.nextDropsCheckNs) {
      this.refreshKernelDrops();
    }
    if (this.batch) {
      const before = this.counters.errors;
      const n = this.batch.poll(handler, limit);
      if (this.counters.errors !== before) {
        this.error = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: recvmmsg failed (errno ${this.batch.lastErrno})`);
      }
      return n;
    }
    let n = 0;
    const cap = this.capacity;
    while (n < limit && this.count > 0) {
      const i = this.head;
      const b = this.bufs[i]!;
      this.bufs[i] = undefined;
      this.head = i + 1 === cap ? 0 : i + 1;
      this.count--;
      this.queuedBytes -= b.length;
      n++;
      this.counters.events++;
      this.counters.bytes += b.length;
      handler(b, 0, b.length, this.utcs[i]!, this.monos[i]!, this.srcFlags[i]!, this.srcBytes, i * SOURCE_MAX_LENGTH);
    }
    return n;
  }

  isEnded(): boolean {
    return this.stateValue === SourceState.FAILED || this.stateValue === SourceState.CLOSED;
  }

  /** Whole datagrams only, all handed out by poll(): nothing to add when the recording stops. */
  flush(_handler: SourceEventHandler): number {
    return 0;
  }

  /** udp://HOST:PORT with the port actually bound (useful with port 0) once open. */
  boundUri(): string {
    if (this.port === 0 || this.spec.port !== 0) return this.uri;
    return formatUdpSourceUri(this.spec, this.port);
  }

  /** Start an async re-read of /proc/net/udp now (poll() does this every dropsRefreshNs). */
  refreshKernelDrops(): void {
    if (this.inode === undefined || this.dropsReadInFlight) return;
    this.dropsReadInFlight = true;
    this.nextDropsCheckNs = this.nanoClock.nanoTime() + this.dropsRefreshNs;
    const inode = this.inode;
    readFile(this.procFile(), 'latin1', (err, text) => {
      this.dropsReadInFlight = false;
      if (err) return;
      const row = parseProcNetUdp(text).find((r) => r.inode === inode);
      if (row && row.drops > this.counters.kernelDrops) this.counters.kernelDrops = row.drops;
    });
  }

  close(): void {
    if (this.stateValue === SourceState.CLOSED) return;
    this.stateValue = SourceState.CLOSED;
    this.batch?.close();
    this.batch = undefined;
    const s = this.socket;
    this.socket = undefined;
    if (s) {
      s.off('message', this.onMessage);
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.bufs.fill(undefined);
    this.count = 0;
    this.queuedBytes = 0;
  }

  private procFile(): string {
    return this.spec.family === 6 ? '/proc/net/udp6' : '/proc/net/udp';
  }

  private locateInode(before: Set<number>): void {
    try {
      // Synchronous, once, at open: /proc reads do not touch a disk.
      const text = readFileSyncSafe(this.procFile());
      if (text === undefined) return;
      this.inode = findSocketInode(parseProcNetUdp(text), this.port, ownSocketInodes(), before);
    } catch {
      this.inode = undefined;
    }
  }

  private fail(e: unknown, what: string): void {
    this.stateValue = SourceState.FAILED;
    this.counters.errors++;
    const msg = e instanceof Error ? e.message : String(e);
    this.error = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: ${what}: ${msg}`, { cause: e });
  }

  private recordError(e: Error): void {
    this.counters.errors++;
    this.error = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: ${e.message}`, { cause: e });
  }
}

function readFileSyncSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}
