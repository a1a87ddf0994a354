/** `vcr events`: the recorded events of channels over a time interval, read reliably, in timestamp order. */
import type { Command } from 'commander';
import { addArchiverOption, addJsonOption, collect, nowUtcNs, parseTimeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { BatchedOutput, eventJson, humanPayload, humanTime } from '../output.js';
import { withClient } from '../session.js';

interface EventsOptions {
  channel?: string[];
  from?: string;
  to?: string;
  follow?: boolean;
  archiver: string;
  json?: boolean;
}

export function registerEvents(program: Command): void {
  const cmd = program
    .command('events')
    .description('print the recorded events of channels within a time interval, in timestamp order')
    .option('--channel <name>', 'channel name or alias (repeatable)', collect)
    .option('--from <time>', 'start of the interval (ISO-8601, epoch ns, -5m)')
    .option('--to <time>', 'end of the interval')
    .option('--follow', 'keep printing live events until the recordings stop');
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: EventsOptions) => {
    const channels = o.channel ?? [];
    if (channels.length === 0) throw new UsageError('events: --channel NAME is required (repeatable)');
    if (o.from === undefined) throw new UsageError('events: --from T is required');
    if (o.to === undefined && !o.follow) throw new UsageError('events: --to T is required (or --follow)');
    const now = nowUtcNs();
    const fromUtcNs = parseTimeArg('--from', o.from, now);
    const toUtcNs = o.to !== undefined ? parseTimeArg('--to', o.to, now) : undefined;
    if (toUtcNs !== undefined && toUtcNs < fromUtcNs) throw new UsageError('events: --to is before --from');
    const output = new BatchedOutput();
    await withClient(o.archiver, async (client) => {
      for await (const e of client.events({ channels, fromUtcNs, toUtcNs, follow: o.follow })) {
        const line = o.json ? JSON.stringify(eventJson(e)) : `${humanTime(e.utcNs)}  ${e.channel}  rec=${e.recordingId} pos=${e.position}  ${humanPayload(e.payload)}`;
        const full = output.line(line);
        if (full) await full;
      }
      await output.flush();
    });
  });
}
