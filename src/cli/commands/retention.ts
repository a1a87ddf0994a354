/**
 * `vcr retention --dry-run [--json]`: what a retention pass would delete now, per channel and
 * interval, with event and payload byte counts, and which holds keep which expired events.
 * `vcr retention run [--json]`: runs a pass now and prints what went.
 *
 * A pass is answered when it ends, which on a large archive can take longer than one request's
 * retries: when the answer times out, the command asks again — the archiver joins the new
 * request to the pass still running — until `--wait` seconds passed, checking in between that
 * the archiver still answers at all.
 */
import type { Command } from 'commander';
import type { ArchiveClient } from '../../client/archive-client.js';
import type { RetentionEntry, RetentionReport } from '../../client/types.js';
import { ErrorCode, isVcrError } from '../../util/errors.js';
import { addArchiverOption, addJsonOption, parseCount } from '../args.js';
import { UsageError } from '../errors.js';
import { humanTime, printJson, printLine, table } from '../output.js';
import { withClient } from '../session.js';

interface Options {
  archiver: string;
  json?: boolean;
  dryRun?: boolean;
  wait: string;
}

const DEFAULT_WAIT_S = '600';

function entryJson(e: RetentionEntry): Record<string, unknown> {
  return {
    runId: e.runId,
    channel: e.channel,
    kind: e.kind,
    limit: e.limit,
    cutUtcNs: e.cutUtcNs.toString(),
    fromUtcNs: e.fromUtcNs.toString(),
    toUtcNs: e.toUtcNs.toString(),
    events: e.events,
    bytes: e.bytes,
    holdId: e.holdId,
  };
}

/** Asks for the pass until it is answered or waitMs passed; a dead archiver fails at its own timeout. */
async function pass(c: ArchiveClient, dryRun: boolean, waitMs: number): Promise<RetentionReport> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await c.retention({ dryRun });
    } catch (err) {
      if (!isVcrError(err, ErrorCode.TIMEOUT) || Date.now() >= deadline) throw err;
      await c.stats(); // still there (or this throws TIMEOUT): the pass is long, ask again
    }
  }
}

async function print(r: RetentionReport, dryRun: boolean, json: boolean): Promise<void> {
  const entries = [...r.entries].sort(
    (a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0) || (a.kind === b.kind ? 0 : a.kind === 'delete' ? -1 : 1) || (a.fromUtcNs < b.fromUtcNs ? -1 : a.fromUtcNs > b.fromUtcNs ? 1 : 0),
  );
  const channels = new Set(entries.filter((e) => e.kind === 'delete').map((e) => e.channel)).size;
  if (json) {
    for (const e of entries) await printJson(entryJson(e));
    await printJson({ runId: r.runId, dryRun, events: r.events, bytes: r.bytes, channels });
    return;
  }
  if (entries.length > 0) {
    await printLine(
      table(
        ['CHANNEL', 'WHAT', 'FROM', 'TO', 'EVENTS', 'BYTES', 'LIMIT', 'CUT'],
        entries.map((e) => [
          e.channel,
          e.kind === 'delete' ? (dryRun ? 'would delete' : 'deleted') : `kept by hold ${e.holdId}`,
          humanTime(e.fromUtcNs),
          humanTime(e.toUtcNs),
          String(e.events),
          String(e.bytes),
          e.limit,
          humanTime(e.cutUtcNs),
        ]),
      ),
    );
  }
  const what = dryRun ? 'would go' : 'deleted';
  await printLine(`${r.events} events (${r.bytes} bytes) ${what} from ${channels} channel${channels === 1 ? '' : 's'}`);
}

export function registerRetention(program: Command): void {
  const retention = program
    .command('retention')
    .description('retention: --dry-run shows what a pass would delete now and which holds keep what; `run` runs a pass now')
    .option('--dry-run', 'plan a pass without deleting anything')
    .option('--wait <seconds>', 'how long to wait for the pass to end', DEFAULT_WAIT_S);
  addJsonOption(addArchiverOption(retention));
  retention.action(async (o: Options) => {
    if (!o.dryRun) throw new UsageError('retention: give --dry-run, or use `vcr retention run` to delete');
    const waitMs = parseCount('--wait', o.wait) * 1000;
    const r = await withClient(o.archiver, (c) => pass(c, true, waitMs));
    await print(r, true, o.json === true);
  });

  // `run` takes the options of `retention` itself (--archiver, --json, --wait): commander gives
  // options a parent defines to the parent wherever they stand on the command line
  retention
    .command('run')
    .description('run a retention pass now (or join the one running) and print what it deleted; options as for `vcr retention`')
    .action(async () => {
      const o = retention.opts<Options>();
      const waitMs = parseCount('--wait', o.wait) * 1000;
      const r = await withClient(o.archiver, (c) => pass(c, false, waitMs));
      await print(r, false, o.json === true);
    });
}
