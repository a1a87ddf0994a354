/**
 * Printing for the commands: JSON Lines (bigints as decimal strings, SPEC §3) and simple
 * aligned tables for people. Writes go through `out()` so a closed pipe (`| head`) ends the
 * command quietly instead of crashing.
 */
import type { RecordedEvent, RecordingDescriptor } from '../client/types.js';
import { formatUtcNs } from '../util/time.js';

export function toJsonLine(obj: unknown): string {
  return JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Writes to stdout and resolves when the data is handed over (respects back-pressure). */
export function out(text: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
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
