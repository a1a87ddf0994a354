/**
 * A packet capture (pcap or pcapng) as a source: the UDP datagrams it holds, each one event,
 * dated with the capture's own times rather than at receipt. UTC is the packet's timestamp
 * (never going backwards: src/pcap/datagram-extractor.ts); the monotonic time is this source's
 * base (the monotonic clock when it opened) plus the packet's distance from the capture's
 * first packet, so a paced replay reproduces the capture's gaps. ownStart() hands the
 * recording that timeline's start. Each event carries the packet's source address and port
 * (flag SOURCE_IPV4 / SOURCE_IPV6), so the recording keeps them as a live UDP recording does.
 *
 * open() reads up to the first packet (so a file that is not a capture is refused before any
 * recording exists: CAPTURE_INVALID / CAPTURE_UNSUPPORTED, or SOURCE_FAILED when it cannot be
 * read). After that, file reads are asynchronous, issued from poll() one at a time with a
 * bounded read-ahead. With speed X > 0 a datagram is handed out only once the monotonic clock
 * has reached base + distance / X; with 0, as fast as the recorder takes them. A capture that
 * ends inside a record, or breaks its structure later on, delivers every datagram before the
 * break and then fails with CAPTURE_TRUNCATED / CAPTURE_INVALID (the recording keeps them).
 */
import { open as fsOpen, type FileHandle } from 'node:fs/promises';
import { CaptureStream } from '../pcap/capture-stream.js';
import { newCaptureRecord, type CaptureRecord } from '../pcap/capture-record.js';
import { DatagramExtractor, type CaptureCounts } from '../pcap/datagram-extractor.js';
import { MonotonicUtcClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import { SOURCE_MAX_LENGTH, encodeSourceBytes } from '../util/source-address.js';
import { isEndState, newSourceCounters, SourceState, type Source, type SourceCounters, type SourceEventHandler } from './source.js';
import type { PcapSourceSpec } from './uri.js';

export interface PcapSourceOptions {
  nanoClock?: NanoClock;
  /** Unused: events carry the capture's times. Accepted so createSource can pass it. */
  utcClock?: EpochNanoClock;
  /** Bytes per read. Default 256 KiB. */
  chunkSize?: number;
  /** Read ahead while fewer bytes than this wait to be parsed. Default 1 MiB. */
  readAhead?: number;
}

export class PcapSource implements Source {
  readonly kind = 'pcap' as const;
  readonly uri: string;
  readonly counters: SourceCounters = newSourceCounters();
  onAvailable: (() => void) | undefined;
  private stateValue: SourceState = SourceState.INIT;
  private error: Error | undefined;
  private readonly nanoClock: NanoClock;
  private readonly chunkSize: number;
  private readonly readAhead: number;
  private readonly stream = new CaptureStream();
  private readonly extractor: DatagramExtractor;
  private readonly rec: CaptureRecord = newCaptureRecord();
  /** The current datagram's encoded source address. */
  private readonly sourceBytes = new Uint8Array(SOURCE_MAX_LENGTH);
  private file: FileHandle | undefined;
  private filePosition = 0;
  private readInFlight = false;
  private eof = false;
  /** A packet taken from the stream and not handed out yet (the first one, or one held by pacing): its bytes are a copy. */
  private held = false;
  private firstTsNs: bigint | undefined;
  private baseMonoNs = 0n;
  /** A structural error of the capture, raised once everything before it was delivered. */
  private pendingError: Error | undefined;
  /** A read error: the bytes before it are still parsed, then the source fails with it. */
  private ioError: Error | undefined;

  constructor(
    readonly spec: PcapSourceSpec,
    options: PcapSourceOptions = {},
  ) {
    this.uri = spec.uri;
    this.nanoClock = options.nanoClock ?? systemNanoClock;
    void (options.utcClock ?? new MonotonicUtcClock(this.nanoClock));
    this.chunkSize = Math.max(4096, options.chunkSize ?? 256 * 1024);
    this.readAhead = Math.max(this.chunkSize, options.readAhead ?? 1024 * 1024);
    this.extractor = new DatagramExtractor(spec.filter);
  }

  get state(): SourceState {
    return this.stateValue;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** What the capture held so far: packets read, datagrams, and skipped packets by reason. */
  get captureCounts(): CaptureCounts {
    return this.extractor.counts;
  }

  async open(): Promise<void> {
    if (this.stateValue !== SourceState.INIT) throw new Error(`${this.uri}: already opened`);
    this.stateValue = SourceState.OPENING;
    try {
      this.file = await fsOpen(this.spec.path, 'r');
      const st = await this.file.stat();
      if (!st.isFile()) throw new Error(`${this.spec.path} is not a regular file`);
    } catch (err) {
      await this.closeFile();
      throw this.failOpen(new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: cannot open ${this.spec.path}: ${(err as Error).message}`, { cause: err }));
    }
    // read up to the first packet: the capture's header must be valid, and its first time starts the timeline
    for (;;) {
      let r: ReturnType<CaptureStream['next']>;
      try {
        r = this.stream.next(this.rec);
      } catch (err) {
        await this.closeFile();
        throw this.failOpen(isVcrError(err) ? err : new VcrError(ErrorCode.CAPTURE_INVALID, String(err)));
      }
      if (r === 'packet') {
        this.hold();
        this.firstTsNs = this.rec.tsNs;
        break;
      }
      if (r === 'end') break;
      try {
        const buf = Buffer.allocUnsafe(this.chunkSize);
        const { bytesRead } = await this.file.read(buf, 0, buf.length, this.filePosition);
        this.accepted(buf, bytesRead);
      } catch (err) {
        await this.closeFile();
        throw this.failOpen(new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: read failed: ${(err as Error).message}`, { cause: err }));
      }
    }
    this.baseMonoNs = this.nanoClock.nanoTime();
    if (this.stateValue === SourceState.OPENING) this.stateValue = SourceState.ACTIVE;
  }

  ownStart(): { utcNs: bigint; monoNs: bigint } | undefined {
    return this.firstTsNs === undefined ? undefined : { utcNs: this.firstTsNs, monoNs: this.baseMonoNs };
  }

  poll(handler: SourceEventHandler, limit: number): number {
    if (this.stateValue !== SourceState.ACTIVE) return 0;
    let delivered = 0;
    let skipped = 0;
    const maxPackets = limit * 4;
    while (delivered < limit && delivered + skipped < maxPackets) {
      if (!this.held && !this.take()) break;
      const rec = this.rec;
      if (this.spec.speed > 0 && this.firstTsNs !== undefined) {
        const ahead = rec.tsNs > this.firstTsNs ? rec.tsNs - this.firstTsNs : 0n;
        const due = this.baseMonoNs + BigInt(Math.round(Number(ahead) / this.spec.speed));
        if (this.nanoClock.nanoTime() < due) {
          if (!this.held) this.hold();
          break;
        }
      }
      this.held = false;
      if (!this.extractor.accept(rec)) {
        skipped++;
        continue;
      }
      const v = this.extractor.view;
      const utc = this.extractor.utcNs;
      const first = this.firstTsNs ?? utc;
      const mono = this.baseMonoNs + (utc > first ? utc - first : 0n);
      this.counters.events++;
      this.counters.bytes += v.payloadLength;
      const sourceFlag = encodeSourceBytes(rec.data, v.srcAddrOffset, v.family === 4 ? 4 : 16, v.srcPort, this.sourceBytes, 0);
      handler(rec.data, v.payloadOffset, v.payloadLength, utc, mono, sourceFlag, this.sourceBytes, 0);
      delivered++;
    }
    this.readMore();
    return delivered + (skipped > 0 ? 1 : 0);
  }

  isEnded(): boolean {
    return isEndState(this.stateValue);
  }

  /** Datagrams are whole: nothing is held back but a paced one, which a stop does not hurry. */
  flush(_handler: SourceEventHandler): number {
    return 0;
  }

  boundUri(): string {
    return this.uri;
  }

  close(): void {
    if (this.stateValue === SourceState.CLOSED) return;
    this.stateValue = SourceState.CLOSED;
    void this.closeFile();
  }

  /** The next packet from the stream into rec; false when there is none now (or ever: state changes). */
  private take(): boolean {
    let r: ReturnType<CaptureStream['next']>;
    try {
      r = this.pendingError ? 'end' : this.stream.next(this.rec);
    } catch (err) {
      this.pendingError = this.ioError ?? (isVcrError(err) ? err : new VcrError(ErrorCode.CAPTURE_INVALID, String(err)));
      r = 'end';
    }
    if (r === 'end' && this.ioError) this.pendingError ??= this.ioError;
    if (r === 'packet') return true;
    if (r === 'end') {
      if (this.pendingError) {
        this.error = this.pendingError;
        this.counters.errors++;
        this.stateValue = SourceState.FAILED;
      } else {
        this.stateValue = SourceState.ENDED;
      }
      void this.closeFile();
    }
    return false;
  }

  /** Keeps the current record across pushes: its bytes are copied out of the stream's buffer. */
  private hold(): void {
    const r = this.rec;
    r.data = Buffer.from(r.data.subarray(r.dataOffset, r.dataOffset + r.dataLength));
    r.dataOffset = 0;
    this.held = true;
  }

  private readMore(): void {
    if (this.readInFlight || this.eof || !this.file || this.stateValue !== SourceState.ACTIVE) return;
    if (this.stream.buffered >= this.readAhead) return;
    const file = this.file;
    const buf = Buffer.allocUnsafe(this.chunkSize);
    this.readInFlight = true;
    file.read(buf, 0, buf.length, this.filePosition).then(
      ({ bytesRead }) => {
        this.readInFlight = false;
        if (this.stateValue !== SourceState.ACTIVE) return;
        this.accepted(buf, bytesRead);
        this.onAvailable?.();
      },
      (err: unknown) => {
        this.readInFlight = false;
        this.eof = true;
        this.stream.finish();
        this.ioError = new VcrError(ErrorCode.SOURCE_FAILED, `${this.uri}: read failed at offset ${this.filePosition}: ${(err as Error).message}`, { cause: err });
        this.onAvailable?.();
      },
    );
  }

  private accepted(buf: Buffer, bytesRead: number): void {
    if (bytesRead === 0) {
      this.eof = true;
      this.stream.finish();
      return;
    }
    this.filePosition += bytesRead;
    this.stream.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
  }

  private failOpen(err: Error): Error {
    this.error = err;
    this.counters.errors++;
    this.stateValue = SourceState.FAILED;
    return err;
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = undefined;
    if (f && !this.readInFlight) await f.close().catch(() => undefined);
    else if (f) setImmediate(() => void f.close().catch(() => undefined));
  }
}
