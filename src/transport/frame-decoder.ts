/**
 * Incremental decoder of the framed-TCP byte stream: `[u32 LE length][payload]` repeated,
 * payload = one SBE message (8-byte message header + body), so a length below 8 is malformed.
 *
 * TCP hands bytes over in arbitrary chunks: a frame may be split across any number of chunks
 * and one chunk may hold many frames. The decoder never concatenates chunks to find frames:
 * it reports each run of whole frames that lies inside one chunk as a (chunk, start, end)
 * range (zero copies: the range points into the chunk Node gave us), and only a frame that
 * straddles chunks is assembled, once, from its pieces. The pieces are kept as they arrive
 * and joined when the frame completes, so memory held for a partial frame is what the peer
 * actually sent, never the length it claims (a garbage length prefix costs nothing).
 *
 * Lengths are checked as soon as their 4 bytes are known: a frame longer than
 * `maxFrameLength` is refused (REQUEST_TOO_LARGE) and a frame too short to hold a message
 * header is refused (MALFORMED_MESSAGE), before anything of it is buffered. After an error
 * the decoder refuses everything (the stream has lost its framing; the connection closes).
 */
import { ErrorCode, VcrError } from '../util/errors.js';

/** Bytes of the length prefix. */
export const FRAME_PREFIX = 4;
/** The smallest payload: one SBE message header (blockLength, templateId, schemaId, version). */
export const MIN_PAYLOAD = 8;
/** Default largest payload: the largest event the SPEC lets a file source record is 1 MiB by default. */
export const DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/**
 * Receives runs of whole frames: bytes [start, end) of `buffer` are `frames` (>= 1) complete
 * frames, each with its length prefix, already checked.
 */
export type FrameRunSink = (buffer: Buffer, start: number, end: number, frames: number) => void;

export class FrameDecoder {
  /** bytes of a length prefix split across chunks */
  private readonly prefix = Buffer.alloc(FRAME_PREFIX);
  private prefixFilled = 0;
  /** pieces of the frame being assembled (its prefix included), and how many bytes it still needs */
  private pieces: Buffer[] = [];
  private piecesLength = 0;
  private needed = 0;
  private failure: VcrError | undefined;

  constructor(readonly maxFrameLength: number = DEFAULT_MAX_FRAME_LENGTH) {
    if (!Number.isInteger(maxFrameLength) || maxFrameLength < MIN_PAYLOAD || maxFrameLength > 0xffff_ffff) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxFrameLength ${maxFrameLength} must be an integer from ${MIN_PAYLOAD} to 4294967295`);
    }
  }

  /** The error that stopped the decoder, if any. */
  get error(): VcrError | undefined {
    return this.failure;
  }

  /** Bytes received that do not yet form a whole frame. */
  get partialBytes(): number {
    return this.prefixFilled + this.piecesLength;
  }

  /**
   * Decodes one chunk. Whole frames go to `sink`; the rest is kept for the next chunk. The
   * chunk must not be modified afterwards (ranges handed to the sink point into it, and a
   * piece of a partial frame may be kept). Throws a VcrError (and stays failed) on a bad
   * length; frames before the bad one have already gone to the sink.
   */
  decode(chunk: Buffer, sink: FrameRunSink): void {
    if (this.failure) throw this.failure;
    const end = chunk.length;
    let pos = 0;
    if (this.prefixFilled > 0) {
      const take = Math.min(FRAME_PREFIX - this.prefixFilled, end);
      chunk.copy(this.prefix, this.prefixFilled, 0, take);
      this.prefixFilled += take;
      pos = take;
      if (this.prefixFilled < FRAME_PREFIX) return;
      const length = this.check(this.prefix.readUInt32LE(0));
      this.prefixFilled = 0;
      this.pieces.push(Buffer.from(this.prefix));
      this.piecesLength = FRAME_PREFIX;
      this.needed = length;
    }
    if (this.needed > 0) {
      const take = Math.min(this.needed, end - pos);
      this.pieces.push(take === end - pos && pos === 0 ? chunk : chunk.subarray(pos, pos + take));
      this.piecesLength += take;
      this.needed -= take;
      pos += take;
      if (this.needed > 0) return;
      const frame = Buffer.concat(this.pieces, this.piecesLength);
      this.pieces = [];
      this.piecesLength = 0;
      sink(frame, 0, frame.length, 1);
    }
    const runStart = pos;
    let frames = 0;
    while (end - pos >= FRAME_PREFIX) {
      const length = this.checkAt(chunk, pos, runStart, frames, sink);
      if (end - pos - FRAME_PREFIX < length) break;
      pos += FRAME_PREFIX + length;
      frames++;
    }
    if (frames > 0) sink(chunk, runStart, pos, frames);
    const rest = end - pos;
    if (rest === 0) return;
    if (rest < FRAME_PREFIX) {
      chunk.copy(this.prefix, 0, pos, end);
      this.prefixFilled = rest;
      return;
    }
    // a frame whose prefix is here but whose payload is not complete: keep the piece
    this.pieces.push(chunk.subarray(pos, end));
    this.piecesLength = rest;
    this.needed = FRAME_PREFIX + chunk.readUInt32LE(pos) - rest;
  }

  /** Reads and checks the length at `pos`; on failure, first hands over the good frames before it. */
  private checkAt(chunk: Buffer, pos: number, runStart: number, frames: number, sink: FrameRunSink): number {
    const length = chunk.readUInt32LE(pos);
    if (length < MIN_PAYLOAD || length > this.maxFrameLength) {
      if (frames > 0) sink(chunk, runStart, pos, frames);
      this.check(length);
    }
    return length;
  }

  private check(length: number): number {
    const error = frameLengthError(length, this.maxFrameLength);
    if (error) this.fail(error);
    return length;
  }

  private fail(error: VcrError): never {
    this.failure = error;
    this.pieces = [];
    this.piecesLength = 0;
    this.needed = 0;
    this.prefixFilled = 0;
    throw error;
  }
}

/** The error for a received frame length outside MIN_PAYLOAD..maxFrameLength, or undefined. */
export function frameLengthError(length: number, maxFrameLength: number): VcrError | undefined {
  if (length < MIN_PAYLOAD) {
    return new VcrError(ErrorCode.MALFORMED_MESSAGE, `frame length ${length} is shorter than a message header (${MIN_PAYLOAD} bytes)`);
  }
  if (length > maxFrameLength) {
    return new VcrError(ErrorCode.REQUEST_TOO_LARGE, `frame length ${length} exceeds the maximum of ${maxFrameLength} bytes`);
  }
  return undefined;
}
