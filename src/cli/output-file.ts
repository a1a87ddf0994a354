/**
 * Where `vcr replay --output` writes: a file, or stdout for `-`. Bytes are gathered into one
 * buffer and written in large pieces (a payload and its separator are two small writes per
 * event otherwise), and a piece is also written as soon as the event loop is idle, so a
 * followed replay shows each event promptly.
 *
 * Every failure to open, write or close a file is a VcrError OUTPUT_FAILED naming the file
 * and the cause (ENOSPC on /dev/full, ENOENT for a missing directory, ...); it is raised by
 * the next write() or by close(), so nothing is reported as written that was not. stdout goes
 * through out() (a closed pipe ends the command quietly).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCode, VcrError } from '../util/errors.js';
import { out } from './output.js';

const PIECE = 64 * 1024;

export class OutputWriter {
  private buf = Buffer.allocUnsafe(PIECE);
  private used = 0;
  private failure: Error | undefined;
  private flushing: Promise<void> | undefined;
  private idleFlush: NodeJS.Immediate | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle | undefined,
  ) {}

  /** Opens (creates or truncates) `path`, or takes stdout for '-'. */
  static async open(path: string): Promise<OutputWriter> {
    if (path === '-') return new OutputWriter(path, undefined);
    try {
      return new OutputWriter(path, await open(path, 'w'));
    } catch (err) {
      throw failed(path, 'cannot open', err);
    }
  }

  get description(): string {
    return this.path === '-' ? 'stdout' : this.path;
  }

  /** Queues bytes; waits only when a full piece must be written first. Throws an earlier failure. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new VcrError(ErrorCode.OUTPUT_FAILED, `${this.description}: written after close`);
    let from = 0;
    while (from < bytes.length) {
      if (this.used === this.buf.length) await this.flush();
      const n = Math.min(bytes.length - from, this.buf.length - this.used);
      this.buf.set(bytes.subarray(from, from + n), this.used);
      this.used += n;
      from += n;
    }
    this.idleFlush ??= setImmediate(() => {
      this.idleFlush = undefined;
      this.flush().catch(() => undefined); // kept in this.failure
    });
  }

  /** Writes everything queued and closes the file; throws OUTPUT_FAILED if anything failed. */
  async close(): Promise<void> {
    if (this.closed) {
      if (this.failure) throw this.failure;
      return;
    }
    if (this.idleFlush) clearImmediate(this.idleFlush);
    this.idleFlush = undefined;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.file) {
        try {
          await this.file.close();
        } catch (err) {
          this.failure ??= failed(this.path, 'cannot close', err);
        }
      }
    }
    if (this.failure) throw this.failure;
  }

  /** Writes the queued bytes (one write at a time). */
  private flush(): Promise<void> {
    this.flushing = (this.flushing ?? Promise.resolve()).then(async () => {
      if (this.failure) throw this.failure;
      if (this.used === 0) return;
      const piece = this.buf.subarray(0, this.used);
      // the piece is in flight: fill a fresh buffer meanwhile
      this.buf = Buffer.allocUnsafe(PIECE);
      this.used = 0;
      try {
        if (this.file) {
          let off = 0;
          while (off < piece.length) off += (await this.file.write(piece, off, piece.length - off)).bytesWritten;
        } else {
          await out(piece);
        }
      } catch (err) {
        this.failure ??= err instanceof VcrError || this.file === undefined ? (err as Error) : failed(this.path, 'cannot write', err);
        throw this.failure;
      }
    });
    return this.flushing;
  }
}

function failed(path: string, what: string, err: unknown): VcrError {
  const msg = err instanceof Error ? err.message : String(err);
  return new VcrError(ErrorCode.OUTPUT_FAILED, `${what} ${path}: ${msg}`, { cause: err });
}
