/**
 * The segment digest (docs/FORMAT.md, "Segment digest"): SHA-256 over one 16-byte record per
 * DATA frame originally written in the segment, in position order (position int64 LE,
 * frameLength int32 LE, crc32c uint32 LE), then the segment's end position (int64 LE: after
 * its last DATA or DELETED frame, padding excluded). Deletion does not change it: the frames
 * a deletion removes are kept in the segment's deletion log, and the digest is recomputed from
 * the frames still there merged with the log.
 *
 * `SegmentDigest` is the writer's incremental form: `add` stores a record in a buffer (a few
 * typed-array stores, no hashing on the append path); `flush` (at commit) feeds the buffer to
 * the hash. `digestSegment` recomputes the digest from a segment's bytes and deletion log,
 * checking every DATA frame's CRC against its bytes on the way.
 */
import { createHash, type Hash } from 'node:crypto';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { DeletionLogRecord } from './deletion-log.js';
import { FrameStatus, checkFrame, frameStatusText } from './frame.js';
import { FrameType, alignFrame, deletionLogFileName, segmentFileName } from './layout.js';

const RECORD_LENGTH = 16;
const BUFFERED_RECORDS = 4096;
const TWO_32 = 4294967296;

/** What a segment's frames amount to: digest and the values sealed with it. */
export interface SegmentSummary {
  digest: string;
  /** DATA frames originally written (deleted ones included). */
  frames: number;
  end: number;
  /** UTC of the first and last of those frames (0n when there are none). */
  firstUtcNs: bigint;
  lastUtcNs: bigint;
}

export class SegmentDigest {
  private hash: Hash = createHash('sha256');
  private readonly buffer = Buffer.alloc(BUFFERED_RECORDS * RECORD_LENGTH);
  private readonly words = new Uint32Array(this.buffer.buffer, this.buffer.byteOffset, BUFFERED_RECORDS * 4);
  private used = 0;
  frames = 0;

  /** One DATA frame, in position order (the append path: stores only, no hashing). */
  add(position: number, frameLength: number, crc: number): void {
    if (this.used === BUFFERED_RECORDS * 4) this.flush();
    const w = this.words;
    const i = this.used;
    w[i] = position >>> 0;
    w[i + 1] = (position / TWO_32) >>> 0;
    w[i + 2] = frameLength;
    w[i + 3] = crc;
    this.used = i + 4;
    this.frames++;
  }

  /** Feeds the buffered records to the hash. */
  flush(): void {
    if (this.used === 0) return;
    this.hash.update(this.buffer.subarray(0, this.used * 4));
    this.used = 0;
  }

  /**
   * The digest with `end` appended, with the UTC of the segment's first and last frames (the
   * caller knows them); the digest then starts over for the next segment.
   */
  finish(end: number, firstUtcNs: bigint, lastUtcNs: bigint): SegmentSummary {
    this.flush();
    const tail = Buffer.alloc(8);
    tail.writeBigInt64LE(BigInt(end));
    const frames = this.frames;
    const summary: SegmentSummary = { digest: this.hash.update(tail).digest('hex'), frames, end, firstUtcNs: frames > 0 ? firstUtcNs : 0n, lastUtcNs: frames > 0 ? lastUtcNs : 0n };
    this.hash = createHash('sha256');
    this.frames = 0;
    return summary;
  }
}

const header = new EventFrameHeaderDecoder();

export interface Where {
  recordingId: number;
  base: number;
  segmentLength: number;
}

function mismatch(w: Where, offset: number, why: string): VcrError {
  return new VcrError(ErrorCode.DIGEST_MISMATCH, `recording ${w.recordingId}, segment ${segmentFileName(w.recordingId, w.base)}, offset ${offset}: ${why}`);
}

/**
 * Recomputes the summary of a segment from its bytes (`seg`, null for a tombstone) and its
 * deletion log. Frames are read from offset `from` up to position `limit` (the live end; the
 * first unwritten frame ends the scan anyway). Throws CORRUPT_SEGMENT naming the offset of a
 * damaged frame, and DIGEST_MISMATCH when the frames and the log disagree or a deleted run is
 * not covered by the log (a version-1 deletion: no digest is defined then).
 */
export function digestSegment(w: Where, seg: Buffer | null, from: number, limit: number, log: readonly DeletionLogRecord[]): SegmentSummary {
  return summarize(segmentRecords(w, seg, from, limit, log));
}

/** The digest of a segment's records (segmentRecords or SegmentWalk.finish). */
export function summarize({ records, end }: { records: readonly DeletionLogRecord[]; end: number }): SegmentSummary {
  const d = new SegmentDigest();
  for (const r of records) d.add(r.position, r.frameLength, r.crc32c);
  return d.finish(end, records[0]?.utcNs ?? 0n, records[records.length - 1]?.utcNs ?? 0n);
}

/** The records a segment's digest is made of, in position order, and its end (see digestSegment). */
export function segmentRecords(w: Where, seg: Buffer | null, from: number, limit: number, log: readonly DeletionLogRecord[]): { records: DeletionLogRecord[]; end: number } {
  const walk = new SegmentWalk(w, from, limit);
  if (seg !== null) while (!walk.step(seg, Number.MAX_SAFE_INTEGER));
  return walk.finish(seg === null, log);
}

/**
 * The frame walk of digestSegment, resumable: `step` checks frames (structure and CRC) for up
 * to a byte budget and says when the segment is done, so a scrubber can spread one segment's
 * check over many duty cycles; `finish` merges the deletion log and yields the digest records.
 * The caller passes the segment's current bytes to every step (a mapping may be replaced
 * between steps; a walk over bytes rewritten meanwhile fails its digest, and is simply redone).
 */
export class SegmentWalk {
  readonly records: DeletionLogRecord[] = [];
  readonly deletedRuns: [number, number][] = [];
  readonly dataAt = new Map<number, DeletionLogRecord>();
  private off: number;
  private done = false;
  end: number;

  constructor(
    readonly w: Where,
    from: number,
    private readonly limit: number,
  ) {
    this.off = from;
    this.end = w.base + from;
  }

  /** Bytes walked so far from the segment's start. */
  get offset(): number {
    return this.off;
  }

  /** Walks frames for about `budget` bytes; true once the segment's frames are all walked. */
  step(seg: Buffer, budget: number): boolean {
    const w = this.w;
    const stop = this.off + budget;
    while (!this.done && this.off < stop) {
      const off = this.off;
      if (w.base + off >= this.limit) {
        this.done = true;
        break;
      }
      const st = checkFrame(seg, off, w.segmentLength, true);
      if (st === FrameStatus.NOT_WRITTEN || st === FrameStatus.END_OF_SEGMENT) {
        this.done = true;
        break;
      }
      if (st !== FrameStatus.OK) {
        throw new VcrError(ErrorCode.CORRUPT_SEGMENT, `recording ${w.recordingId}, segment ${segmentFileName(w.recordingId, w.base)}, offset ${off}: ${frameStatusText(st)}`);
      }
      const h = header.wrap(seg, off);
      const length = h.frameLength();
      const type = h.frameType();
      if (type === FrameType.PADDING) {
        this.done = true;
        break;
      }
      const position = w.base + off;
      if (type === FrameType.DATA) {
        const r = { position, frameLength: length, crc32c: h.crc32c(), utcNs: h.utcNs() };
        this.records.push(r);
        this.dataAt.set(position, r);
      } else {
        this.deletedRuns.push([position, position + alignFrame(length)]);
      }
      this.off = off + alignFrame(length);
      this.end = w.base + this.off;
    }
    return this.done;
  }

  /** Merges the deletion log (`tombstone`: the segment has no bytes) into the walked frames. */
  finish(tombstone: boolean, log: readonly DeletionLogRecord[]): { records: DeletionLogRecord[]; end: number } {
    const w = this.w;
    const { records, deletedRuns, dataAt } = this;
    let end = this.end;
    // the log's records: each inside a deleted run, or (a crash between log and rewrite) equal to a frame still there
    let run = 0;
    let expected = -1;
    const logName = deletionLogFileName(w.recordingId, w.base);
    for (const r of log) {
      const still = dataAt.get(r.position);
      if (still) {
        if (still.frameLength !== r.frameLength || still.crc32c !== r.crc32c) throw mismatch(w, r.position - w.base, `${logName} disagrees with the DATA frame there`);
        continue;
      }
      if (tombstone) {
        // tombstone: the log alone describes the segment, its records must follow one another
        if (expected >= 0 && r.position !== expected) throw mismatch(w, r.position - w.base, `${logName} has a gap before this position`);
      } else {
        while (run < deletedRuns.length && deletedRuns[run]![1] <= r.position) {
          if (expected !== deletedRuns[run]![1]) throw mismatch(w, deletedRuns[run]![0] - w.base, `deleted run is not covered by ${logName}`);
          run++;
          expected = -1;
        }
        const current = deletedRuns[run];
        if (!current || r.position < current[0]) throw mismatch(w, r.position - w.base, `${logName} names a frame that is neither DATA nor deleted`);
        if (r.position !== (expected < 0 ? current[0] : expected)) throw mismatch(w, r.position - w.base, `deleted run is not covered by ${logName}`);
      }
      expected = r.position + alignFrame(r.frameLength);
      records.push(r);
    }
    if (!tombstone) {
      for (; run < deletedRuns.length; run++, expected = -1) {
        if (expected !== deletedRuns[run]![1]) throw mismatch(w, deletedRuns[run]![0] - w.base, `deleted run is not covered by ${logName}`);
      }
    } else if (records.length === 0) {
      throw mismatch(w, 0, `every frame was deleted and ${logName} is missing or empty: no digest is defined`);
    } else {
      end = expected;
    }
    records.sort((a, b) => a.position - b.position);
    return { records, end };
  }
}
