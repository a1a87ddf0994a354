/** Shared helpers for storage tests: temp archive directories (test/helpers/wait.ts) and deterministic payloads. */
import { afterEach } from 'vitest';
import { removeTempDirs, tempDir as sharedTempDir } from '../helpers/wait.js';

export function tempDir(prefix = 'vcr-storage-'): string {
  return sharedTempDir(prefix);
}

/** Removes the temp directories of each test after it. */
export function cleanupTempDirs(): void {
  afterEach(() => removeTempDirs());
}

/** Payload i: deterministic bytes of a varying length, so content checks can recompute it. */
export function payload(i: number, maxLength = 300): Buffer {
  const len = (i * 7919) % maxLength;
  const b = Buffer.alloc(len);
  for (let k = 0; k < len; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  epochMs(): number {
    return this.ms;
  }
}

export interface ReadEvent {
  position: number;
  utcNs: bigint;
  monoNs: bigint;
  payload: Buffer;
}

export function collect(reader: { poll(h: (b: Buffer, o: number, l: number, p: number, u: bigint, m: bigint) => void, n: number): number; isDone(): boolean }): ReadEvent[] {
  const out: ReadEvent[] = [];
  for (let guard = 0; guard < 1_000_000 && !reader.isDone(); guard++) {
    const n = reader.poll((b, o, l, p, u, m) => out.push({ position: p, utcNs: u, monoNs: m, payload: Buffer.from(b.subarray(o, o + l)) }), 1000);
    if (n === 0 && !reader.isDone()) break;
  }
  return out;
}
