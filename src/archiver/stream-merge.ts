/**
 * The events of a streamed replay, in stream order, written into batches: one recording in
 * position order, or several merged in the one merge order (src/util/merge-order.ts:
 * utcNs, then recordingId, then position), read through the ArchiveStore port's readers.
 *
 * Each input has a head: the next event it will give, copied out of the reader (a reader's
 * bytes are only valid inside its handler). An event goes out only when every input that is
 * not finished has shown its head, so a live recording that is quiet holds the others back
 * (the price of a strict order, as in every merge here). Runs are cheap: after the earliest
 * head goes out, its input is read straight into the batch (no head copy) for as long as its
 * events come before the second-earliest head, a full batch being committed and the next
 * begun on the way; with one input that is every event (but the first after a pause).
 *
 * What ends an input: the reader has nothing more (its `isDone()`, or for a reader without
 * one, nothing delivered while its recording is not live), an event at or beyond its
 * `endPosition` (a length limit), or later than `toUtcNs` (the interval is closed), or, for a
 * live recording, UTC passing `toUtcNs` by a grace second (events still queued in its source
 * get that long). Events before `fromUtcNs` are skipped (recordings that join a follow read
 * are read from their start). A follow read over channels (`awaitNewInputs`) keeps going when
 * its inputs run out, while recordings may still join: until UTC passes `toUtcNs`, or without
 * one, while a recording of its channels is live.
 */
import { sourceLength } from '../util/source-address.js';
import { compareMergeOrder } from '../util/merge-order.js';
import type { RecordingReaderPort } from './ports.js';

/** How long after `to` a quiet live recording is still waited for (events queued in its source). */
const LIVE_END_GRACE_NS = 1_000_000_000n;

export interface StreamInputSpec {
  recordingId: number;
  channel: string;
  reader: RecordingReaderPort & { isDone?(): boolean };
  /** The first position not replayed (a length limit); Infinity: none. */
  endPosition: number;
  /** The reader follows a live recording. */
  follow: boolean;
}

export interface StreamMergeOptions {
  fromUtcNs: bigint | null;
  toUtcNs: bigint | null;
  /** A follow read over channels: recordings that start later join (add()). */
  awaitNewInputs: boolean;
  isRecordingActive(recordingId: number): boolean;
  /** With awaitNewInputs and no toUtcNs: whether a recording of the channels is live. */
  channelsLive(): boolean;
  nowUtcNs(): bigint;
}

/** Where events go: StreamProxy, or anything that batches the same way. */
export interface EventBatchSink {
  readonly inBatch: boolean;
  begin(payloadLength: number): boolean;
  fits(payloadLength: number): boolean;
  append(recordingId: number, buffer: Buffer, payloadOffset: number, payloadLength: number, position: number, utcNs: bigint, monoNs: bigint, flags: number): void;
  commit(): number;
  /** Names a recording before its first event; false when the stream cannot take it. */
  recording(recordingId: number, channel: string): boolean;
}

export const PumpResult = {
  /** the batch budget was used up: call again */
  MORE: 'MORE',
  /** the sink takes nothing now (back-pressure) */
  BLOCKED: 'BLOCKED',
  /** nothing to send until a recording grows (or joins) */
  WAIT: 'WAIT',
  /** every event has been sent */
  END: 'END',
} as const;
export type PumpResult = (typeof PumpResult)[keyof typeof PumpResult];

const EMPTY = Buffer.alloc(0);

class Input {
  readonly recordingId: number;
  readonly channel: string;
  readonly reader: StreamInputSpec['reader'];
  readonly endPosition: number;
  readonly follow: boolean;
  announced = false;
  exhausted = false;
  hasHead = false;
  head: Buffer = EMPTY;
  headLength = 0;
  headPosition = 0;
  headUtcNs = 0n;
  headMonoNs = 0n;
  headFlags = 0;

  constructor(spec: StreamInputSpec) {
    this.recordingId = spec.recordingId;
    this.channel = spec.channel;
    this.reader = spec.reader;
    this.endPosition = spec.endPosition;
    this.follow = spec.follow;
  }

  stash(buffer: Buffer, offset: number, length: number, position: number, utcNs: bigint, monoNs: bigint, flags: number): void {
    // with the source address trailer that follows the payload, if the flags announce one
    const total = length + Math.max(0, sourceLength(flags));
    if (this.head.length < total) this.head = Buffer.allocUnsafe(Math.max(total, this.head.length * 2, 256));
    buffer.copy(this.head, 0, offset, offset + total);
    this.headLength = length;
    this.headPosition = position;
    this.headUtcNs = utcNs;
    this.headMonoNs = monoNs;
    this.headFlags = flags;
    this.hasHead = true;
  }

  finish(): void {
    if (this.exhausted) return;
    this.exhausted = true;
    this.hasHead = false;
    this.head = EMPTY;
    this.reader.close();
  }
}

export class StreamMerge {
  /** Inputs not finished (finished ones are dropped as they are found). */
  private inputs: Input[] = [];
  private readonly ids: number[] = [];
  eventsSent = 0;
  bytesSent = 0;
  private sink: EventBatchSink | undefined;
  private target: Input | undefined;
  /** The second-earliest head while draining (undefined: none, the target runs free). */
  private bound: Input | undefined;
  private stopped = false;
  private closed = false;
  /** Batches committed by the current pump, and its budget. */
  private committed = 0;
  private maxBatches = 0;

  /** A reader's frame while filling a head: filtered, then stashed. */
  private readonly onStash = (buffer: Buffer, offset: number, length: number, position: number, utcNs: bigint, monoNs: bigint, flags: number): void => {
    const input = this.target!;
    if (this.beyondEnd(input, position, utcNs)) input.finish();
    else if (!this.beforeStart(utcNs)) input.stash(buffer, offset, length, position, utcNs, monoNs, flags);
  };

  /** A reader's frame while draining the earliest input straight into the batch. */
  private readonly onDirect = (buffer: Buffer, offset: number, length: number, position: number, utcNs: bigint, monoNs: bigint, flags: number): void => {
    const input = this.target!;
    if (this.beyondEnd(input, position, utcNs)) {
      input.finish();
      this.stopped = true;
      return;
    }
    if (this.beforeStart(utcNs)) return;
    const b = this.bound;
    const sink = this.sink!;
    if (
      (b !== undefined && compareMergeOrder(utcNs, input.recordingId, position, b.headUtcNs, b.recordingId, b.headPosition) > 0) ||
      (!sink.fits(length) && !this.nextBatch(length))
    ) {
      input.stash(buffer, offset, length, position, utcNs, monoNs, flags);
      this.stopped = true;
      return;
    }
    sink.append(input.recordingId, buffer, offset, length, position, utcNs, monoNs, flags);
    this.eventsSent++;
    this.bytesSent += length;
  };

  constructor(
    specs: StreamInputSpec[],
    private readonly options: StreamMergeOptions,
  ) {
    for (const s of specs) this.push(s);
  }

  /** Recordings this stream reads or has read. */
  get recordingIds(): readonly number[] {
    return this.ids;
  }

  private push(spec: StreamInputSpec): void {
    this.inputs.push(new Input(spec));
    this.ids.push(spec.recordingId);
  }

  /** A recording joins (a follow read over channels); its reader is closed if the merge is. */
  add(spec: StreamInputSpec): void {
    if (this.closed) {
      spec.reader.close();
      return;
    }
    this.push(spec);
  }

  /**
   * Writes events into `sink` in stream order until `maxBatches` batches were committed, the
   * sink refuses a batch, or nothing more can go now. The open batch is committed before it
   * returns, so what was written leaves on the next flush.
   */
  pump(sink: EventBatchSink, maxBatches: number): PumpResult {
    this.sink = sink;
    this.committed = 0;
    this.maxBatches = maxBatches;
    let result: PumpResult;
    for (;;) {
      const best = this.earliest();
      if (typeof best === 'string') {
        result = best;
        break;
      }
      if (!best.announced) {
        if (!sink.recording(best.recordingId, best.channel)) {
          result = PumpResult.BLOCKED;
          break;
        }
        best.announced = true;
      }
      // room for the head: the open batch, or a new one
      if (!sink.inBatch || !sink.fits(best.headLength)) {
        if (sink.inBatch) {
          sink.commit();
          this.committed++;
        }
        if (this.committed >= maxBatches) {
          result = PumpResult.MORE;
          break;
        }
        if (!sink.begin(best.headLength)) {
          result = PumpResult.BLOCKED;
          break;
        }
      }
      sink.append(best.recordingId, best.head, 0, best.headLength, best.headPosition, best.headUtcNs, best.headMonoNs, best.headFlags);
      best.hasHead = false;
      this.eventsSent++;
      this.bytesSent += best.headLength;
      this.drain(best);
    }
    if (sink.inBatch) sink.commit();
    this.sink = undefined;
    return result;
  }

  /**
   * While draining, an event that does not fit the open batch: commits it and begins one with
   * room for the event, so the event goes from the reader into the batch directly (a large
   * event is copied once, not stashed first). False (nothing begun) when the batch budget of
   * this pump is used up or the sink is not writable: the caller stashes the event.
   */
  private nextBatch(payloadLength: number): boolean {
    const sink = this.sink!;
    if (sink.inBatch) {
      sink.commit();
      this.committed++;
    }
    return this.committed < this.maxBatches && sink.begin(payloadLength);
  }

  /** Closes every reader. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const input of this.inputs) {
      try {
        input.finish();
      } catch {
        // closing one reader must not keep the others open
      }
    }
  }

  /**
   * The input whose head comes first (every unfinished input has a head), WAIT when a live
   * input has none yet, END when every input is finished and none can join. Leaves the
   * second-earliest head in `bound`.
   */
  private earliest(): Input | typeof PumpResult.WAIT | typeof PumpResult.END {
    let best: Input | undefined;
    let second: Input | undefined;
    let waiting = false;
    let finished = 0;
    for (const input of this.inputs) {
      if (!input.hasHead && !input.exhausted) this.fillHead(input);
      if (input.exhausted) {
        finished++;
        continue;
      }
      if (!input.hasHead) {
        waiting = true;
        continue;
      }
      if (best === undefined || before(input, best)) {
        second = best;
        best = input;
      } else if (second === undefined || before(input, second)) {
        second = input;
      }
    }
    if (finished > 0) this.inputs = this.inputs.filter((i) => !i.exhausted);
    if (waiting) return PumpResult.WAIT;
    if (best === undefined) {
      if (this.options.awaitNewInputs && !this.noneCanJoin()) return PumpResult.WAIT;
      return PumpResult.END;
    }
    this.bound = second;
    return best;
  }

  private fillHead(input: Input): void {
    this.target = input;
    for (;;) {
      const n = input.reader.poll(this.onStash, 1);
      if (n === 0) {
        this.checkFinished(input);
        return;
      }
      if (input.hasHead || input.exhausted) return;
      // the event was before fromUtcNs: read on
    }
  }

  /** Reads `input` straight into the open batch while its events come before the bound. */
  private drain(input: Input): void {
    this.target = input;
    this.stopped = false;
    while (!this.stopped) {
      if (input.reader.poll(this.onDirect, 1) === 0) {
        this.checkFinished(input);
        return;
      }
    }
  }

  /** The reader delivered nothing: is the input finished, or is its recording still growing? */
  private checkFinished(input: Input): void {
    if (input.exhausted) return;
    const live = input.follow && this.options.isRecordingActive(input.recordingId);
    const done = input.reader.isDone ? input.reader.isDone() : !live;
    if (done || (live && this.pastTo(LIVE_END_GRACE_NS))) input.finish();
  }

  private beyondEnd(input: Input, position: number, utcNs: bigint): boolean {
    return position >= input.endPosition || (this.options.toUtcNs !== null && utcNs > this.options.toUtcNs);
  }

  private beforeStart(utcNs: bigint): boolean {
    return this.options.fromUtcNs !== null && utcNs < this.options.fromUtcNs;
  }

  /** UTC is beyond toUtcNs (+ grace). */
  private pastTo(graceNs: bigint): boolean {
    const to = this.options.toUtcNs;
    return to !== null && this.options.nowUtcNs() > to + graceNs;
  }

  /** No recording can join any more: UTC passed `to`, or without one, no recording of the channels is live. */
  private noneCanJoin(): boolean {
    if (this.options.toUtcNs !== null) return this.pastTo(0n);
    return !this.options.channelsLive();
  }
}

function before(a: Input, b: Input): boolean {
  return compareMergeOrder(a.headUtcNs, a.recordingId, a.headPosition, b.headUtcNs, b.recordingId, b.headPosition) < 0;
}
