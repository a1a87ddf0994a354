/**
 * `vcr quarantine add|remove|list`: holds that protect events from deletion. `remove` takes
 * the hold's id, or the same --channel/--from/--to it was added with (every hold matching
 * exactly is released).
 */
import type { Command } from 'commander';
import type { QuarantineDescriptor } from '../../client/types.js';
import { addArchiverOption, addJsonOption, nowUtcNs, parseCount, parseTimeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { humanTime, printJson, printLine, table } from '../output.js';
import { withClient } from '../session.js';

interface Options {
  channel?: string;
  from?: string;
  to?: string;
  archiver: string;
  json?: boolean;
}

function interval(cmd: string, o: Options): { fromUtcNs: bigint; toUtcNs: bigint } {
  if (o.from === undefined || o.to === undefined) throw new UsageError(`quarantine ${cmd}: --from T and --to T are required`);
  const now = nowUtcNs();
  const fromUtcNs = parseTimeArg('--from', o.from, now);
  const toUtcNs = parseTimeArg('--to', o.to, now);
  if (toUtcNs < fromUtcNs) throw new UsageError(`quarantine ${cmd}: --to is before --from`);
  return { fromUtcNs, toUtcNs };
}

function holdJson(q: QuarantineDescriptor): Record<string, unknown> {
  return { quarantineId: q.quarantineId, channel: q.channel, fromUtcNs: q.fromUtcNs.toString(), toUtcNs: q.toUtcNs.toString() };
}

export function registerQuarantine(program: Command): void {
  const q = program.command('quarantine').description('holds that protect events from deletion');

  const add = q
    .command('add')
    .description('protect the events of a channel (default: all) in [from, to]; prints the quarantineId')
    .option('--channel <name>', 'channel (default: all channels)')
    .option('--from <time>', 'start (ISO-8601, epoch ns, -5m)')
    .option('--to <time>', 'end');
  addJsonOption(addArchiverOption(add));
  add.action(async (o: Options) => {
    const { fromUtcNs, toUtcNs } = interval('add', o);
    const id = await withClient(o.archiver, (c) => c.addQuarantine({ channel: o.channel, fromUtcNs, toUtcNs }));
    if (o.json) await printJson({ quarantineId: id, channel: o.channel ?? '', fromUtcNs: fromUtcNs.toString(), toUtcNs: toUtcNs.toString() });
    else await printLine(String(id));
  });

  const remove = q
    .command('remove')
    .description('release a hold: by id, or by the --channel/--from/--to it was added with')
    .argument('[id]', 'quarantineId')
    .option('--channel <name>', 'channel of the hold (default: the all-channels hold)')
    .option('--from <time>', 'start of the hold')
    .option('--to <time>', 'end of the hold');
  addJsonOption(addArchiverOption(remove));
  remove.action(async (id: string | undefined, o: Options) => {
    if (id !== undefined && (o.channel !== undefined || o.from !== undefined || o.to !== undefined)) {
      throw new UsageError('quarantine remove: give an id, or --channel/--from/--to, not both');
    }
    const byId = id !== undefined ? parseCount('quarantineId', id) : undefined;
    const match = byId === undefined ? interval('remove', o) : undefined;
    const removed = await withClient(o.archiver, async (c) => {
      if (byId !== undefined) {
        await c.removeQuarantine(byId);
        return [byId];
      }
      const holds = (await c.listQuarantines()).filter(
        (h) => h.channel === (o.channel ?? '') && h.fromUtcNs === match!.fromUtcNs && h.toUtcNs === match!.toUtcNs,
      );
      if (holds.length === 0) throw new UsageError('quarantine remove: no hold matches that --channel/--from/--to (see quarantine list)');
      for (const h of holds) await c.removeQuarantine(h.quarantineId);
      return holds.map((h) => h.quarantineId);
    });
    for (const r of removed) {
      if (o.json) await printJson({ quarantineId: r, removed: true });
      else await printLine(String(r));
    }
  });

  const list = q.command('list').description('list holds').option('--channel <name>', 'only holds on this channel').option('--from <time>').option('--to <time>');
  addJsonOption(addArchiverOption(list));
  list.action(async (o: Options) => {
    const now = nowUtcNs();
    const from = o.from !== undefined ? parseTimeArg('--from', o.from, now) : undefined;
    const to = o.to !== undefined ? parseTimeArg('--to', o.to, now) : undefined;
    const holds = (await withClient(o.archiver, (c) => c.listQuarantines())).filter(
      (h) => (o.channel === undefined || h.channel === o.channel) && (from === undefined || h.toUtcNs >= from) && (to === undefined || h.fromUtcNs <= to),
    );
    if (o.json) {
      for (const h of holds) await printJson(holdJson(h));
      return;
    }
    await printLine(
      holds.length
        ? table(['ID', 'CHANNEL', 'FROM', 'TO'], holds.map((h) => [String(h.quarantineId), h.channel || '(all)', humanTime(h.fromUtcNs), humanTime(h.toUtcNs)]))
        : 'no quarantine holds',
    );
  });
}
