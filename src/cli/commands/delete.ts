/** `vcr delete`: removes the unquarantined events of a channel (or all) in an interval; prints how many. */
import type { Command } from 'commander';
import { addArchiverOption, addJsonOption, nowUtcNs, parseTimeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson, printLine } from '../output.js';
import { withClient } from '../session.js';

export function registerDelete(program: Command): void {
  const cmd = program
    .command('delete')
    .description('delete the unquarantined events of a channel (default: all) in [from, to]')
    .option('--channel <name>', 'channel (default: all channels)')
    .option('--from <time>', 'start (ISO-8601, epoch ns, -5m)')
    .option('--to <time>', 'end');
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: { channel?: string; from?: string; to?: string; archiver: string; json?: boolean }) => {
    if (o.from === undefined || o.to === undefined) throw new UsageError('delete: --from T and --to T are required');
    const now = nowUtcNs();
    const fromUtcNs = parseTimeArg('--from', o.from, now);
    const toUtcNs = parseTimeArg('--to', o.to, now);
    if (toUtcNs < fromUtcNs) throw new UsageError('delete: --to is before --from');
    const deleted = await withClient(o.archiver, (c) => c.deleteEvents({ channel: o.channel, fromUtcNs, toUtcNs }));
    if (o.json) await printJson({ deleted, channel: o.channel ?? '', fromUtcNs: fromUtcNs.toString(), toUtcNs: toUtcNs.toString() });
    else await printLine(String(deleted));
  });
}
