/**
 * Printing for the commands: JSON Lines (bigints as decimal strings, SPEC §3) and simple
 * aligned tables for people. Data goes to stdout through `out()`:
 *
 * - a closed pipe (`vcr events ... | head -1`) ends the command quietly with status 0, as Unix
 *   tools do: the write fails with EPIPE, out() rejects with StdoutClosed, the command unwinds
 *   (closing its session) and main() exits 0 without a message;
 * - any other failed write (`> /dev/full`) is OUTPUT_FAILED with the cause, exit 1;
 * - main() waits for stdout to take everything before it ends (finishStdout), so a failure of
 *   the last write is reported too.
 */
import type { RecordedEvent, RecordingDescriptor } from '../client/types.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { formatUtcNs } from '../util/time.js';

export function toJsonLine(obj: unknown): string {
  return JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** stdout's reader went away: the command ends quietly, status 0. */
export class StdoutClosed extends Error {
  override name = 'StdoutClosed';
  constructor() {
    super('stdout closed');
  }
}

/** The first failure of stdout, if any (StdoutClosed, or VcrError OUTPUT_FAILED). */
let stdoutFailure: Error | undefined;
const failureWaiters = new Set<(err: Error) => void>();

function stdoutFailed(err: NodeJS.ErrnoException): Error {
  if (stdoutFailure === undefined) {
    stdoutFailure =
      err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED'
        ? new StdoutClosed()
        : new VcrError(ErrorCode.OUTPUT_FAILED, `cannot write to stdout: ${err.message}`, { cause: err });
    for (const w of failureWaiters) w(stdoutFailure);
    failureWaiters.clear();
  }
  return stdoutFailure;
}

let guarded = false;

/** Turns stdout/stderr stream errors into a recorded failure instead of a crash (main calls it). */
export function guardOutputStreams(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => void stdoutFailed(err));
  // diagnostics have nowhere else to go: a failed stderr is ignored
  process.stderr.on('error', () => undefined);
}

/** Writes to stdout; resolves when the data is handed over (respects back-pressure). */
export function out(text: string | Uint8Array): Promise<void> {
  guardOutputStreams();
  if (stdoutFailure) return Promise.reject(stdoutFailure);
  return new Promise((resolve, reject) => {
    let settled = false;
    const onFailure = (err: Error) => {
      if (settled) return;
      settled = true;
      process.stdout.off('drain', onDrain);
      reject(err);
    };
    const onDrain = () => {
      if (settled) return;
      settled = true;
      failureWaiters.delete(onFailure);
      resolve();
    };
    const ok = process.stdout.write(text, (err) => {
      if (err) onFailure(stdoutFailed(err));
    });
    if (stdoutFailure) onFailure(stdoutFailure);
    else if (ok) {
      settled = true;
      resolve();
    } else {
      failureWaiters.add(onFailure);
      process.stdout.once('drain', onDrain);
    }
  });
}

/** Resolves once stdout has taken everything written so far; rejects with its failure, if any. */
export async function finishStdout(): Promise<void> {
  const stdout = process.stdout;
  if (!stdoutFailure && stdout.writableLength > 0) {
    await new Promise<void>((resolve) => {
      failureWaiters.add(() => resolve());
      stdout.once('drain', () => resolve());
    });
  }
  // the outcome of a write stdout took at once is reported on a later tick
  await new Promise((r) => setImmediate(r));
  if (stdoutFailure) throw stdoutFailure;
}

/**
 * Lines written in batches (one write of up to ~64 KiB instead of one per line), for commands
 * that print one line per event: a batch also goes out `maxDelayMs` after its first line, so a
 * followed stream still shows each event promptly. A failed write surfaces on the next call.
 */
export class BatchedOutput {
  private parts: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(
    private readonly maxBytes = 64 * 1024,
    private readonly maxDelayMs = 50,
  ) {}

  line(text: string): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.parts.push(text);
    this.size += text.length + 1;
    if (this.size >= this.maxBytes) return this.flush();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => (this.failure = err));
    }, this.maxDelayMs);
    return undefined;
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure !== undefined) throw this.failure;
    if (this.size === 0) return;
    const text = `${this.parts.join('\n')}\n`;
    this.parts = [];
    this.size = 0;
    await out(text);
  }
}

export function printJson(obj: unknown): Promise<void> {
  return out(`${toJsonLine(obj)}\n`);
}

export function printLine(text: string): Promise<void> {
  return out(`${text}\n`);
}

/** Progress and diagnostics go to stderr, never mixed with data on stdout. */
export function info(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function recordingJson(d: RecordingDescriptor): Record<string, unknown> {
  return {
    recordingId: d.recordingId,
    channel: d.channel,
    aliases: d.aliases,
    source: d.source,
    state: d.state,
    startPosition: d.startPosition,
    stopPosition: d.stopPosition,
    startUtcNs: d.startUtcNs.toString(),
    stopUtcNs: d.stopUtcNs.toString(),
    events: d.eventCount,
    startMonoNs: d.startMonoNs.toString(),
    stopMonoNs: d.stopMonoNs.toString(),
    segmentLength: d.segmentLength,
  };
}

export function eventJson(e: RecordedEvent): Record<string, unknown> {
  return {
    channel: e.channel,
    recordingId: e.recordingId,
    position: e.position,
    utcNs: e.utcNs.toString(),
    monoNs: e.monoNs.toString(),
    payload: e.payload.toString('base64'),
    ...(e.source ? { source: { address: e.source.address, port: e.source.port } } : {}),
  };
}

/** A time for people: ISO-8601 with nanoseconds, or '-' for an unset (0 or negative) time. */
export function humanTime(ns: bigint): string {
  return ns <= 0n ? '-' : formatUtcNs(ns);
}

/** Payload as text when it is printable UTF-8, else as hex. */
export function humanPayload(p: Buffer): string {
  const s = p.toString('utf8');
  if (!s.includes('\uFFFD') && !/[\u0000-\u0008\u000B-\u001F\u007F]/.test(s)) return JSON.stringify(s);
  return `0x${p.toString('hex')}`;
}
