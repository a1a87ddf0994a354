/**
 * Crash safety: a child process appends as fast as it can and is SIGKILLed at random moments;
 * after each kill the archive is reopened (recovery) and every frame the child reported as
 * written must be there, intact, with nothing after a torn frame.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { cleanupTempDirs, collect, tempDir } from './helpers.js';

cleanupTempDirs();

function payloadFor(recordingId: number, i: number): Buffer {
  const len = (i * 7919 + recordingId * 13) % 700;
  const b = Buffer.alloc(len);
  for (let k = 0; k < len; k++) b[k] = (recordingId * 101 + i * 31 + k * 7) & 0xff;
  return b;
}

const child = resolve(__dirname, 'fixtures/append-child.mjs');

async function runAndKill(dir: string, seed: number, killAfterLines: number): Promise<{ recordingId: number; count: number; lastPosition: number }> {
  const proc = spawn(process.execPath, [child, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let recordingId = -1;
  let count = 0;
  let lastPosition = -1;
  let buffered = '';
  let lines = 0;
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((res) => proc.on('exit', () => res()));
  await new Promise<void>((res) => {
    proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (line[0] === 'R') recordingId = Number(line[1]);
        if (line[0] === 'W') {
          count = Number(line[2]);
          lastPosition = Number(line[3]);
          if (++lines === killAfterLines) {
            proc.kill('SIGKILL');
            res();
          }
        }
      }
    });
    proc.on('exit', () => res());
  });
  proc.kill('SIGKILL');
  await exited;
  expect(stderr).toBe('');
  return { recordingId, count, lastPosition };
}

describe('crash recovery', () => {
  it('keeps every reported frame across repeated SIGKILLs at random moments', async () => {
    const dir = tempDir();
    const reported: { recordingId: number; count: number }[] = [];
    for (let round = 0; round < 8; round++) {
      const r = await runAndKill(dir, 1000 + round * 7, 20 + Math.floor(Math.random() * 400));
      expect(r.recordingId).toBe(round);
      reported.push(r);
      const archive = Archive.open(dir, { segmentLength: 64 * 1024 });
      for (const { recordingId, count } of reported) {
        const d = archive.describe(recordingId);
        expect(d.lifecycle).toBe('stopped');
        const events = collect(archive.openReader(recordingId, { verifyCrc: true }));
        // everything reported is there; anything beyond is a prefix continuation, intact
        expect(events.length).toBeGreaterThanOrEqual(count);
        expect(events.length).toBe(d.eventCount);
        const bad = events.findIndex((e, i) => e.utcNs !== BigInt(1000 + i) || !e.payload.equals(payloadFor(recordingId, i)));
        expect(bad).toBe(-1);
      }
      archive.close();
    }
  }, 60_000);
});
