/**
 * `vcr catalog describe|verify|dump|recover --dir DIR`: the offline inspection tool. Works on
 * the archive files directly, with no archiver running (describe, verify and dump open them
 * read-only and also work beside a running archiver; recover takes the directory lock and
 * applies the archiver's own repair).
 */
import { statSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { RecordingDescriptor } from '../../storage/types.js';
import type { VerifyProgress } from '../../storage/verify.js';
import { ErrorCode, VcrError, errorCodeName } from '../../util/errors.js';
import { formatSource } from '../../util/source-address.js';
import { UsageError } from '../errors.js';
import { humanTime, printJson, printLine, recordingJson, table } from '../output.js';

/**
 * The storage engine (and the mmap binding under it) is loaded only when a catalog command
 * runs, so every other `vcr` command starts without paying for it.
 */
async function storage() {
  const [archive, dump, verify] = await Promise.all([
    import('../../storage/archive.js'),
    import('../../storage/dump.js'),
    import('../../storage/verify.js'),
  ]);
  return { Archive: archive.Archive, dumpFrames: dump.dumpFrames, openDescriptors: dump.openDescriptors, verifyArchive: verify.verifyArchive };
}

interface DirOpts {
  dir: string;
  json?: boolean;
}

/** The `vcr query list` record (SPEC §3 keys), plus what only the catalog knows. */
function descriptorJson(d: RecordingDescriptor): Record<string, unknown> {
  return {
    ...recordingJson({ ...d, state: d.state === 'valid' ? d.lifecycle : d.state }),
    descriptorState: d.state,
    cleanStop: d.cleanStop,
    failureCode: d.failureCode,
  };
}

function progressBar(label: string): VerifyProgress | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new SingleBar({ stream: process.stderr, format: `${label} [{bar}] {value}/{total} segments`, hideCursor: true });
  return { start: (total) => bar.start(total, 0), tick: () => bar.increment(), stop: () => bar.stop() };
}

function hexDump(p: Buffer): string[] {
  const lines: string[] = [];
  for (let i = 0; i < p.length; i += 16) {
    const row = p.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`    ${i.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines;
}

/** Repair works on an existing archive only: a mistyped path must not become a new, empty one. */
function requireExistingDirectory(dir: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `archive directory ${dir} does not exist (recover repairs an existing archive; it creates none)`);
}

function parseNonNegative(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} expects a non-negative integer, got '${v}'`);
  return Number(v);
}

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description('inspect and repair an archive directory offline (no archiver needed)');

  catalog
    .command('describe')
    .description('print the catalog: one line per recording')
    .requiredOption('--dir <dir>', 'archive directory')
    .option('--json', 'print JSON Lines (one object per line)')
    .action(async (o: DirOpts) => {
      const { openDescriptors } = await storage();
      const { descriptors, problems } = openDescriptors(o.dir);
      if (o.json) {
        for (const d of descriptors) await printJson(descriptorJson(d));
        for (const p of problems) await printJson({ recordingId: p.recordingId, state: 'invalid', problem: p.message });
        return;
      }
      await printLine(
        table(
          ['ID', 'CHANNEL', 'STATE', 'EVENTS', 'START', 'STOP', 'POSITIONS', 'SEGMENT', 'SOURCE', 'ALIASES'],
          descriptors.map((d) => [
            String(d.recordingId),
            d.channel,
            d.state === 'valid' ? d.lifecycle : d.state,
            String(d.eventCount),
            humanTime(d.startUtcNs),
            humanTime(d.stopUtcNs),
            `${d.startPosition}..${d.stopPosition}`,
            String(d.segmentLength),
            d.source,
            d.aliases.join(','),
          ]),
        ),
      );
      for (const p of problems) await printLine(`recording ${p.recordingId}: INVALID (${p.message})`);
    });

  catalog
    .command('verify')
    .description('check every checksum, frame CRC, position and time index entry; exit 1 on any problem')
    .requiredOption('--dir <dir>', 'archive directory')
    .option('--json', 'print JSON Lines (one object per line)')
    .action(async (o: DirOpts) => {
      const progress = progressBar('verify');
      const { verifyArchive } = await storage();
      const r = verifyArchive(o.dir, progress ? { progress } : {});
      for (const p of r.problems) {
        if (o.json) await printJson({ ...p, codeName: errorCodeName(p.code) });
        else {
          const where = [p.recordingId !== undefined ? `recording ${p.recordingId}` : undefined, p.file, p.offset !== undefined ? `offset ${p.offset}` : undefined, p.position !== undefined ? `position ${p.position}` : undefined]
            .filter(Boolean)
            .join(', ');
          await printLine(`PROBLEM ${where}: ${p.message} [${errorCodeName(p.code)}]`);
        }
      }
      const summary = { ok: r.problems.length === 0, recordings: r.recordings, frames: r.frames, bytes: r.bytes, problems: r.problems.length };
      if (o.json) await printJson(summary);
      else await printLine(`${summary.ok ? 'OK' : 'FAILED'}: ${r.recordings} recording(s), ${r.frames} frame(s), ${r.problems.length} problem(s)`);
      if (!summary.ok) process.exitCode = 1;
    });

  catalog
    .command('dump')
    .description('print the frames of a recording (hex and text)')
    .requiredOption('--dir <dir>', 'archive directory')
    .option('--recording <id>', 'recording to dump (default: all)')
    .option('--position <p>', 'first frame position')
    .option('--limit <n>', 'at most this many frames per recording')
    .option('--json', 'print JSON Lines (one object per line)')
    .action(async (o: DirOpts & { recording?: string; position?: string; limit?: string }) => {
      const id = o.recording !== undefined ? parseNonNegative('--recording', o.recording) : undefined;
      const position = o.position !== undefined ? parseNonNegative('--position', o.position) : undefined;
      const limit = o.limit !== undefined ? parseNonNegative('--limit', o.limit) : Number.MAX_SAFE_INTEGER;
      const { openDescriptors, dumpFrames } = await storage();
      const { descriptors } = openDescriptors(o.dir);
      const chosen = descriptors.filter((d) => id === undefined || d.recordingId === id);
      if (id !== undefined && chosen.length === 0) throw new UsageError(`--recording ${id}: no such readable recording in ${o.dir}`);
      for (const d of chosen) {
        let n = 0;
        if (!o.json) await printLine(`recording ${d.recordingId} (${d.channel}) positions ${d.startPosition}..${d.stopPosition}`);
        for (const f of dumpFrames(o.dir, d, position)) {
          if (n++ >= limit) break;
          if (o.json) {
            await printJson({
              recordingId: f.recordingId,
              position: f.position,
              segment: f.segment,
              offset: f.offset,
              type: f.type,
              length: f.length,
              utcNs: f.utcNs.toString(),
              monoNs: f.monoNs.toString(),
              crcOk: f.crcOk,
              flags: f.flags,
              ...(f.source ? { source: f.source } : {}),
              payloadHex: f.payload.toString('hex'),
              payloadText: f.payload.toString('latin1').replace(/[^\x20-\x7e]/g, '.'),
              ...(f.problem ? { problem: f.problem } : {}),
            });
          } else {
            await printLine(
              `  ${f.position} ${f.type} len=${f.length} utc=${humanTime(f.utcNs)} (${f.utcNs}) mono=${f.monoNs}${f.flags !== 0 ? ` flags=${f.flags}` : ''}${f.source ? ` src=${formatSource(f.source)}` : ''} crc=${f.crcOk ? 'ok' : 'BAD'} ${f.segment}+${f.offset}${f.problem ? ` ${f.problem}` : ''}`,
            );
            for (const line of hexDump(f.payload)) await printLine(line);
          }
        }
      }
    });

  catalog
    .command('recover')
    .description('repair the archive as the archiver does on open (needs the directory lock); exit 1 if damage remains')
    .requiredOption('--dir <dir>', 'archive directory')
    .option('--json', 'print JSON Lines (one object per line)')
    .action(async (o: DirOpts) => {
      requireExistingDirectory(o.dir);
      const { Archive } = await storage();
      const archive = Archive.open(o.dir);
      try {
        const actions = archive.recoveryActions();
        const damaged = archive.damagedRecordings();
        const segments = archive.damage();
        for (const line of archive.openActions()) {
          if (o.json) await printJson({ archive: o.dir, action: line });
          else await printLine(`archive: ${line}`);
        }
        for (const a of actions) {
          if (o.json) await printJson(a);
          else for (const line of a.actions) await printLine(`recording ${a.recordingId}: ${line}`);
        }
        for (const d of damaged) {
          if (o.json) await printJson({ recordingId: d.recordingId, damaged: d.error.message, codeName: d.error.codeName });
          else await printLine(`recording ${d.recordingId}: cannot be repaired: ${d.error.message} [${d.error.codeName}]`);
        }
        for (const d of segments) {
          if (o.json) await printJson({ recordingId: d.recordingId, segmentBase: d.base, damaged: d.problem, codeName: errorCodeName(d.code) });
          else await printLine(`recording ${d.recordingId}: damaged segment: ${d.problem} [${errorCodeName(d.code)}]`);
        }
        if (!o.json) {
          await printLine(`recovered: ${archive.listRecordings().length} recording(s), ${actions.length} repaired, ${damaged.length} unreadable, ${segments.length} damaged segment(s)`);
        }
        if (damaged.length > 0 || segments.length > 0) process.exitCode = 1;
      } finally {
        archive.close();
      }
    });
}
