/**
 * Archive tier end to end: a real archiver process with an `archive` config, the real CLI
 * (`vcr archive run|status`, `vcr events`, `vcr catalog verify`), real files. Each step of the
 * crash-safe order is interrupted by a real SIGKILL of the archiver (VCR_ARCHIVE_PAUSE_AT stops
 * the pass there and the test kills the process): after a restart nothing is lost, every
 * segment is in exactly one tier, and a later pass finishes the job.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { Archive } from '../../src/storage/archive.js';
import { repoRoot, vcrBin } from '../helpers/cli.js';
import { ArchiverProcess, freeUdpPort, jsonLines, stopAll, tempDir, until, vcr } from './harness.js';

afterEach(() => stopAll());

const SEG = 64 * 1024;
const MS = 1_000_000n;
const COUNT = 1200;
const T0 = BigInt(Date.now() - 3 * 86_400_000) * MS; // three days ago

/** A stopped recording of COUNT events, one per ms from T0, in 64 KiB segments. */
function prepareArchive(dir: string): void {
  const a = Archive.open(dir, { segmentLength: SEG });
  const w = a.createRecording({ channel: 'old', source: 'test', startUtcNs: T0, startMonoNs: 0n });
  for (let i = 0; i < COUNT; i++) {
    const p = Buffer.alloc(200, i & 0xff);
    p.writeUInt32LE(i, 0);
    w.append(p, 0, p.length, T0 + BigInt(i) * MS, BigInt(i) * MS);
  }
  w.stop();
  a.close();
}

async function launch(dir: string, location: string, env: Record<string, string> = {}): Promise<ArchiverProcess> {
  const config = join(dir, '..', `${dir.split('/').pop()}-config.json`);
  writeFileSync(config, JSON.stringify({ archive: { location, afterAge: '1d', intervalMs: 0, blockSize: 16384 } }));
  const control = `127.0.0.1:${await freeUdpPort()}`;
  const child = spawn(process.execPath, [vcrBin, 'archiver', '--dir', dir, '--control', control, '--config', config], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const a = new ArchiverProcess(child, dir, control);
  await until('the archiver to answer', 20_000, async () => {
    if (!a.running) throw new Error(`archiver exited: ${a.stderr.slice(-2000)}`);
    const c = await ArchiveClient.connect({ archiver: control, timeoutMs: 200, attempts: 1 });
    await c.close();
    return true;
  });
  return a;
}

async function eventIds(a: ArchiverProcess): Promise<number[]> {
  const r = await vcr(['events', '--archiver', a.control, '--channel', 'old', '--from', String(T0), '--to', String(T0 + 10_000n * MS), '--json'], { timeoutMs: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return jsonLines(r.stdout).map((e) => Buffer.from(e.payload as string, 'base64').readUInt32LE(0));
}

async function tiers(a: ArchiverProcess): Promise<Record<string, Record<string, unknown>>> {
  const r = await vcr(['archive', 'status', '--archiver', a.control, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(jsonLines(r.stdout).map((t) => [t.tier as string, t]));
}

const ALL = [...Array(COUNT).keys()];

/** What the first segment's files look like when the pass stops at each step. */
const STEP_FILES: Record<string, { tmp: boolean; vcs: boolean; arc: boolean; rec: boolean }> = {
  writing: { tmp: true, vcs: false, arc: false, rec: true },
  written: { tmp: false, vcs: true, arc: false, rec: true },
  verified: { tmp: false, vcs: true, arc: false, rec: true },
  recorded: { tmp: false, vcs: true, arc: true, rec: true },
  removed: { tmp: false, vcs: true, arc: true, rec: false },
};

describe('vcr archive (real archiver, real CLI)', () => {
  it('status, dry run and run: old segments move, events read back unchanged, catalog verify is clean', async () => {
    const dir = tempDir('vcr-arch-');
    const location = tempDir('vcr-cold-');
    prepareArchive(dir);
    const a = await launch(dir, location);
    const before = await tiers(a);
    const segments = before.hot!.segments as number;
    expect(segments).toBeGreaterThan(3);
    expect(before.archived!.segments).toBe(0);
    const dry = await vcr(['archive', 'run', '--dry-run', '--json', '--archiver', a.control]);
    expect(dry.status, dry.stderr).toBe(0);
    const d = jsonLines(dry.stdout)[0]!;
    expect(d.segments).toBe(segments);
    expect(d.segmentsArchived).toBe(0);
    expect((d.candidates as unknown[]).length).toBe(segments);
    expect((await tiers(a)).hot!.segments).toBe(segments);
    const run = await vcr(['archive', 'run', '--json', '--archiver', a.control], { timeoutMs: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const r = jsonLines(run.stdout)[0]!;
    expect(r.segmentsArchived).toBe(segments);
    expect(r.bytesOut as number).toBeLessThan(r.bytesIn as number);
    const after = await tiers(a);
    expect(after.hot!.segments).toBe(0);
    expect(after.archived!.segments).toBe(segments);
    expect(after.archived!.oldestUtcNs).toBe(String(T0));
    expect(after.archived!.newestUtcNs).toBe(String(T0 + BigInt(COUNT - 1) * MS));
    expect(readdirSync(dir).filter((n) => n.endsWith('.rec'))).toEqual([]);
    expect(await eventIds(a)).toEqual(ALL);
    const text = await vcr(['archive', 'status', '--archiver', a.control]);
    expect(text.stdout).toMatch(/archived\s+\d+/);
    await a.kill();
    const verify = await vcr(['catalog', 'verify', '--dir', dir]);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);

  it('bad archive config is refused naming the key', async () => {
    const dir = tempDir('vcr-arch-');
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ archive: { location: '/tmp/x', afterAge: 'soon' } }));
    const r = await vcr(['archiver', '--dir', dir, '--control', `127.0.0.1:${await freeUdpPort()}`, '--config', config]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('archive.afterAge');
  });

  for (const step of ['writing', 'written', 'verified', 'recorded', 'removed']) {
    it(`a SIGKILL at step "${step}" loses nothing and counts no segment twice`, async () => {
      const dir = tempDir('vcr-arch-');
      const location = tempDir('vcr-cold-');
      prepareArchive(dir);
      const a = await launch(dir, location, { VCR_ARCHIVE_PAUSE_AT: step });
      const segments = (await tiers(a)).hot!.segments as number;
      const c = await ArchiveClient.connect({ archiver: a.control });
      await c.archiveRun(false);
      await c.close();
      await until(`the pass to reach "${step}"`, 30_000, async () => a.stderr.includes('archive pass paused'));
      await a.kill('SIGKILL');
      // the kill came where it was meant to: the files of the first segment show that step
      const owner = join(location, 'local');
      const seen = {
        tmp: readdirSync(owner).some((n) => n.endsWith('.tmp')),
        vcs: existsSync(join(owner, '0-0.vcs')),
        arc: existsSync(join(dir, '0-0.arc')),
        rec: existsSync(join(dir, '0-0.rec')),
      };
      expect(seen).toEqual(STEP_FILES[step]);
      const b = await launch(dir, location);
      expect(await eventIds(b)).toEqual(ALL);
      const t = await tiers(b);
      expect((t.hot!.segments as number) + (t.archived!.segments as number)).toBe(segments);
      // every segment in exactly one place: a .rec here, or an .arc here with its copy there
      for (let base = 0; base < segments * SEG; base += SEG) {
        const rec = existsSync(join(dir, `0-${base}.rec`));
        const arc = existsSync(join(dir, `0-${base}.arc`));
        expect(rec !== arc, `segment ${base}: rec=${rec} arc=${arc}`).toBe(true);
        expect(existsSync(join(owner, `0-${base}.vcs`))).toBe(arc);
      }
      expect(readdirSync(owner).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      // the next pass finishes the job
      const run = await vcr(['archive', 'run', '--json', '--archiver', b.control], { timeoutMs: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      expect((await tiers(b)).archived!.segments).toBe(segments);
      expect(await eventIds(b)).toEqual(ALL);
      await b.kill();
      const verify = await vcr(['catalog', 'verify', '--dir', dir]);
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    }, 120_000);
  }
});
