/** `vcr catalog` against real archive files, through the real executable. */
import { existsSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive } from '../../src/storage/archive.js';
import { dumpFrames, openDescriptors } from '../../src/storage/dump.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { errorCodeName } from '../../src/util/errors.js';
import { runVcr } from '../helpers/cli.js';
import { cleanupTempDirs, tempDir } from './helpers.js';

cleanupTempDirs();
const SEG = 64 * 1024;

function makeArchive(): string {
  const dir = tempDir();
  const a = Archive.open(dir, { segmentLength: SEG });
  for (let r = 0; r < 2; r++) {
    const w = a.createRecording({ channel: `ch${r}`, aliases: [`alias${r}`], source: 'file:///x', startUtcNs: 1n, startMonoNs: 1n });
    for (let i = 0; i < 700; i++) {
      const p = Buffer.from(`event ${r}/${i} `.padEnd(20 + (i % 200), 'x'));
      w.append(p, 0, p.length, BigInt(1000 + i), BigInt(i));
    }
    w.stop();
  }
  a.close();
  return dir;
}

function problems(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => 'message' in o);
}

describe('vcr catalog', () => {
  it('verify finds a single flipped byte in any frame header or payload and names where', () => {
    const dir = makeArchive();
    const ok = runVcr(['catalog', 'verify', '--dir', dir]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^OK: 2 recording\(s\)/);
    const { descriptors } = openDescriptors(dir);
    const frames = descriptors.flatMap((d) => [...dumpFrames(dir, d)]).filter((f) => f.type === 'DATA');
    for (let round = 0; round < 8; round++) {
      const f = frames[Math.floor(Math.random() * frames.length)]!;
      const inHeader = round % 2 === 0;
      const at = f.offset + (inHeader ? Math.floor(Math.random() * 32) : 32 + Math.floor(Math.random() * (f.length - 32)));
      const path = join(dir, f.segment);
      const bytes = readFileSync(path);
      const original = bytes[at]!;
      bytes[at] = original ^ (1 << Math.floor(Math.random() * 8));
      writeFileSync(path, bytes);
      // the same check runs in-process for most rounds; through the executable for the first two
      let found: Record<string, unknown>[];
      if (round < 2) {
        const bad = runVcr(['catalog', 'verify', '--dir', dir, '--json']);
        expect(bad.stderr).toBe('');
        expect(bad.status).toBe(1);
        found = problems(bad.stdout);
      } else {
        found = verifyArchive(dir).problems.map((p) => ({ ...p, codeName: errorCodeName(p.code) }));
      }
      expect(found.length).toBeGreaterThan(0);
      expect(found[0]).toMatchObject({ recordingId: f.recordingId, file: f.segment, codeName: 'CORRUPT_SEGMENT' });
      expect([f.offset, at]).toContain(found[0]!.offset);
      bytes[at] = original;
      writeFileSync(path, bytes);
    }
    expect(runVcr(['catalog', 'verify', '--dir', dir]).status).toBe(0);
  });

  it('verify flags bytes outside frames, a corrupt descriptor and a damaged index', () => {
    const dir = makeArchive();
    const seg = join(dir, '1-0.rec');
    const bytes = readFileSync(seg);
    bytes[SEG - 3] = 0x55; // in the zero tail after the last frame of the segment
    writeFileSync(seg, bytes);
    const cat = join(dir, 'catalog.dat');
    const c = readFileSync(cat);
    c[4096 + 3000] ^= 0x01; // unused bytes of descriptor 0: still covered by its checksum
    writeFileSync(cat, c);
    const tix = join(dir, '0.tix');
    const t = readFileSync(tix);
    t.writeBigInt64LE(123456789n, 64 + 16 * 2); // utc of entry 2
    writeFileSync(tix, t);
    const r = runVcr(['catalog', 'verify', '--dir', dir, '--json']);
    expect(r.status).toBe(1);
    const codes = problems(r.stdout).map((p) => `${String(p.recordingId)}:${String(p.codeName)}:${String(p.file)}`);
    expect(codes).toContain('0:CORRUPT_CATALOG:catalog.dat');
    expect(codes).toContain('0:CORRUPT_INDEX:0.tix');
    expect(codes.some((x) => x.startsWith('1:CORRUPT_SEGMENT:1-'))).toBe(true);
  });

  it('describe and dump print JSON Lines; recover repairs what open repairs', () => {
    const dir = makeArchive();
    const d = runVcr(['catalog', 'describe', '--dir', dir, '--json']);
    expect(d.status).toBe(0);
    const rows = d.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => [r.recordingId, r.channel, r.state, r.events])).toEqual([
      [0, 'ch0', 'stopped', 700],
      [1, 'ch1', 'stopped', 700],
    ]);
    const dump = runVcr(['catalog', 'dump', '--dir', dir, '--recording', '1', '--limit', '3', '--json']);
    expect(dump.status).toBe(0);
    const frames = dump.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(frames.length).toBe(3);
    expect(Buffer.from(String(frames[2]!.payloadHex), 'hex').toString()).toMatch(/^event 1\/2 x+$/);
    expect(frames[0]).toMatchObject({ type: 'DATA', crcOk: true, utcNs: '1000', position: 0 });
    const text = runVcr(['catalog', 'dump', '--dir', dir, '--recording', '0', '--limit', '1']);
    expect(text.stdout).toContain('event 0/0');
    // an index file lost: recover rebuilds it, verify is clean again
    writeFileSync(join(dir, '0.tix'), Buffer.alloc(10));
    expect(runVcr(['catalog', 'verify', '--dir', dir]).status).toBe(1);
    const rec = runVcr(['catalog', 'recover', '--dir', dir]);
    expect(rec.status).toBe(0);
    expect(rec.stdout).toContain('recording 0: time index rebuilt');
    expect(runVcr(['catalog', 'verify', '--dir', dir]).status).toBe(0);
    expect(runVcr(['catalog', 'dump', '--dir', dir, '--recording', 'x']).status).toBe(2);
    expect(runVcr(['catalog', 'verify', '--dir', join(dir, 'nope')]).status).toBe(1);
  });

  it('recover rebuilds a deleted catalog, reports damaged segments, and refuses a directory that does not exist', () => {
    const dir = makeArchive();
    unlinkSync(join(dir, 'catalog.dat'));
    const rebuilt = runVcr(['catalog', 'recover', '--dir', dir]);
    expect(rebuilt.status).toBe(0);
    expect(runVcr(['catalog', 'verify', '--dir', dir]).status).toBe(0);
    const rows = runVcr(['catalog', 'describe', '--dir', dir, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => [r.recordingId, r.channel, r.events])).toEqual([
      [0, 'ch0', 700],
      [1, 'ch1', 700],
    ]);

    truncateSync(join(dir, '1-0.rec'), 5000);
    const verify = runVcr(['catalog', 'verify', '--dir', dir, '--json']);
    expect(verify.status).toBe(1);
    expect(problems(verify.stdout).map((p) => [p.recordingId, p.file, p.codeName])).toEqual([[1, '1-0.rec', 'SEGMENT_TRUNCATED']]);
    const damaged = runVcr(['catalog', 'recover', '--dir', dir, '--json']);
    expect(damaged.status).toBe(1);
    expect(damaged.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ recordingId: 1, segmentBase: 0, codeName: 'SEGMENT_TRUNCATED' }),
    );

    const nowhere = join(dir, 'no', 'such', 'archive');
    const missing = runVcr(['catalog', 'recover', '--dir', nowhere]);
    expect(missing.status).toBe(1);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});
