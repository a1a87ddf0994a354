/** `vcr status`: the archiver's counters (events, bytes, kernel drops, malformed inputs, errors, per channel). */
import type { Command } from 'commander';
import { addArchiverOption, addJsonOption } from '../args.js';
import { withClient } from '../session.js';
import { printStats } from './query.js';

export function registerStatus(program: Command): void {
  const cmd = program.command('status').description("print the archiver's counters");
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: { archiver: string; json?: boolean }) => {
    const s = await withClient(o.archiver, (c) => c.stats());
    await printStats(s, o.json ?? false);
  });
}
