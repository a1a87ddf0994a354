/**
 * `vcr archive run [--dry-run]` and `vcr archive status` (docs/ARCHIVER.md, "Archive tier").
 * `run` asks the archiver for a pass (or joins the one running) and follows it with status
 * requests until it ends, with a progress bar on stderr when that is a TTY; a pass that could
 * not move some segment ends with exit 1 naming the last failure. `status` prints per tier the
 * segments, bytes and the oldest and newest event times.
 */
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { ArchiveClient } from '../../client/archive-client.js';
import type { ArchiveStatus } from '../../client/types.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { addArchiverOption, addJsonOption } from '../args.js';
import { humanTime, printJson, printLine, table } from '../output.js';
import { withClient } from '../session.js';

const POLL_MS = 200;

function tiersJson(s: ArchiveStatus): Record<string, unknown>[] {
  return s.tiers.map((t) => ({
    tier: t.tier,
    segments: t.segments,
    bytes: t.bytes,
    oldestUtcNs: t.oldestUtcNs === null ? null : String(t.oldestUtcNs),
    newestUtcNs: t.newestUtcNs === null ? null : String(t.newestUtcNs),
  }));
}

async function followPass(c: ArchiveClient, passId: number): Promise<ArchiveStatus> {
  const bar = process.stderr.isTTY ? new SingleBar({ stream: process.stderr, format: 'archiving [{bar}] {value}/{total} segments, {blocks} blocks', hideCursor: true }) : undefined;
  let started = false;
  try {
    for (;;) {
      const s = await c.archiveStatus();
      if (s.passId !== passId) throw new VcrError(ErrorCode.GENERIC, `archive pass ${passId} is no longer known to the archiver (it restarted?)`);
      if (bar) {
        if (!started && s.segmentsTotal > 0) {
          bar.start(s.segmentsTotal, 0, { blocks: 0 });
          started = true;
        }
        if (started) bar.update(s.segmentsArchived + s.segmentsFailed, { blocks: s.blocks });
      }
      if (!s.running) return s;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    if (started) bar?.stop();
  }
}

export function registerArchive(program: Command): void {
  const archive = program.command('archive').description('the archive tier: move old segments to the archive location');

  const run = archive.command('run').description('run an archive pass now').option('--dry-run', 'list the segments that would move; move nothing');
  addJsonOption(addArchiverOption(run));
  run.action(async (o: { archiver: string; json?: boolean; dryRun?: boolean }) => {
    const dryRun = o.dryRun === true;
    const s = await withClient(o.archiver, async (c) => followPass(c, await c.archiveRun(dryRun)));
    if (o.json) {
      await printJson({
        passId: s.passId,
        dryRun: s.dryRun,
        segments: s.segmentsTotal,
        segmentsArchived: s.segmentsArchived,
        segmentsFailed: s.segmentsFailed,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        ...(s.dryRun ? { candidates: s.candidates } : {}),
        ...(s.lastError ? { lastError: s.lastError } : {}),
      });
    } else if (s.dryRun) {
      await printLine(`would archive ${s.segmentsTotal} segments (${s.candidates.reduce((n, c) => n + c.bytes, 0)} bytes) to ${s.location}`);
      if (s.candidates.length > 0) {
        await printLine(table(['CHANNEL', 'RECORDING', 'SEGMENT', 'BYTES'], s.candidates.map((c) => [c.channel, String(c.recordingId), String(c.base), String(c.bytes)])));
      }
    } else {
      await printLine(`archived ${s.segmentsArchived} of ${s.segmentsTotal} segments: ${s.bytesIn} bytes moved, ${s.bytesOut} bytes written to ${s.location}${s.segmentsFailed > 0 ? `, ${s.segmentsFailed} failed` : ''}`);
    }
    if (s.segmentsFailed > 0) throw new VcrError(ErrorCode.IO_ERROR, `archive pass ${s.passId}: ${s.segmentsFailed} segments could not be archived (last: ${s.lastError})`);
  });

  const status = archive.command('status').description('segments, bytes and times per tier');
  addJsonOption(addArchiverOption(status));
  status.action(async (o: { archiver: string; json?: boolean }) => {
    const s = await withClient(o.archiver, (c) => c.archiveStatus());
    if (o.json) {
      for (const t of tiersJson(s)) await printJson({ ...t, ...(t.tier === 'archived' ? { location: s.location } : {}) });
      return;
    }
    if (!s.configured) await printLine('no archive location is configured (config key "archive"): every segment is hot');
    await printLine(
      table(
        ['TIER', 'SEGMENTS', 'BYTES', 'OLDEST', 'NEWEST'],
        s.tiers.map((t) => [t.tier, String(t.segments), String(t.bytes), t.oldestUtcNs === null ? '-' : humanTime(t.oldestUtcNs), t.newestUtcNs === null ? '-' : humanTime(t.newestUtcNs)]),
      ),
    );
    if (s.passId > 0) {
      await printLine(`last pass ${s.passId}${s.running ? ' (running)' : ''}${s.dryRun ? ' (dry run)' : ''}: ${s.segmentsArchived}/${s.segmentsTotal} segments archived, ${s.segmentsFailed} failed`);
    }
  });
}
