/** `vcr query list|describe|position|channels|stats`. */
import type { Command } from 'commander';
import type { RecordingDescriptor, RecordingStateName, StatsSnapshot } from '../../client/types.js';
import { addArchiverOption, addJsonOption, nowUtcNs, parseRecordingId, parseTimeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { humanTime, printJson, printLine, recordingJson, table } from '../output.js';
import { withClient } from '../session.js';

interface Common {
  archiver: string;
  json?: boolean;
}

const STATES: RecordingStateName[] = ['recording', 'stopped', 'failed', 'invalid', 'deleted'];

function recordingRows(list: RecordingDescriptor[]): string {
  return table(
    ['ID', 'CHANNEL', 'STATE', 'EVENTS', 'START', 'STOP', 'POSITIONS', 'SOURCE', 'ALIASES'],
    list.map((d) => [
      String(d.recordingId),
      d.channel,
      d.state,
      String(d.eventCount),
      humanTime(d.startUtcNs),
      humanTime(d.stopUtcNs),
      `${d.startPosition}..${d.stopPosition}`,
      d.source,
      d.aliases.join(','),
    ]),
  );
}

export function statsJson(s: StatsSnapshot): Record<string, unknown> {
  const o: Record<string, unknown> = { utcNs: s.utcNs.toString() };
  const perChannel: Record<string, Record<string, string>> = {};
  for (const [name, value] of s.counters) {
    const m = /^channel\.(.+)\.([^.]+)$/.exec(name);
    if (m) (perChannel[m[1]!] ??= {})[m[2]!] = value.toString();
    else o[name] = value.toString();
  }
  o.channels = perChannel;
  return o;
}

export async function printStats(s: StatsSnapshot, json: boolean): Promise<void> {
  if (json) {
    await printJson(statsJson(s));
    return;
  }
  await printLine(`archiver counters at ${humanTime(s.utcNs)}`);
  const names = [...s.counters.keys()].sort();
  await printLine(table(['COUNTER', 'VALUE'], names.map((n) => [n, s.counters.get(n)!.toString()])));
}

export function registerQuery(program: Command): void {
  const query = program.command('query').description('ask the archiver about recordings, channels and counters');

  const list = query
    .command('list')
    .description('list recordings')
    .option('--channel <name>', 'only this channel (name or alias)')
    .option('--state <state>', `only recordings in this state (${STATES.join('|')})`)
    .option('--from <time>', 'only recordings overlapping [from, to]')
    .option('--to <time>', 'see --from');
  addJsonOption(addArchiverOption(list));
  list.action(async (o: Common & { channel?: string; state?: string; from?: string; to?: string }) => {
    if (o.state !== undefined && !STATES.includes(o.state as RecordingStateName)) {
      throw new UsageError(`query list: --state must be one of ${STATES.join(', ')}`);
    }
    const now = nowUtcNs();
    const fromUtcNs = o.from !== undefined ? parseTimeArg('--from', o.from, now) : undefined;
    const toUtcNs = o.to !== undefined ? parseTimeArg('--to', o.to, now) : undefined;
    const recordings = await withClient(o.archiver, (c) =>
      c.listRecordings({ channel: o.channel, states: o.state ? [o.state as RecordingStateName] : [], fromUtcNs, toUtcNs }),
    );
    if (o.json) for (const d of recordings) await printJson(recordingJson(d));
    else await printLine(recordings.length ? recordingRows(recordings) : 'no recordings');
  });

  const describe = query.command('describe').description('describe one recording').argument('<id>', 'recordingId');
  addJsonOption(addArchiverOption(describe));
  describe.action(async (id: string, o: Common) => {
    const recordingId = parseRecordingId('recordingId', id);
    const d = await withClient(o.archiver, (c) => c.describeRecording(recordingId));
    if (o.json) {
      await printJson(recordingJson(d));
      return;
    }
    const j = recordingJson(d);
    j.startUtc = humanTime(d.startUtcNs);
    j.stopUtc = humanTime(d.stopUtcNs);
    for (const [k, v] of Object.entries(j)) await printLine(`${k.padEnd(14)} ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  });

  const position = query.command('position').description('current (live) or stop position of a recording').argument('<id>', 'recordingId');
  addJsonOption(addArchiverOption(position));
  position.action(async (id: string, o: Common) => {
    const recordingId = parseRecordingId('recordingId', id);
    const p = await withClient(o.archiver, (c) => c.recordingPosition(recordingId));
    if (o.json) await printJson({ recordingId, position: p });
    else await printLine(String(p));
  });

  const channels = query.command('channels').description('list channels, their aliases and sources');
  addJsonOption(addArchiverOption(channels));
  channels.action(async (o: Common) => {
    const list = await withClient(o.archiver, (c) => c.listChannels());
    if (o.json) {
      for (const c of list) await printJson(c);
      return;
    }
    await printLine(
      list.length
        ? table(
            ['CHANNEL', 'ALIASES', 'SOURCE', 'RECORDINGS', 'ACTIVE'],
            list.map((c) => [c.channel, c.aliases.join(','), c.source, String(c.recordingCount), c.activeRecordingId === null ? '-' : String(c.activeRecordingId)]),
          )
        : 'no channels',
    );
  });

  const stats = query.command('stats').description("the archiver's counters");
  addJsonOption(addArchiverOption(stats));
  stats.action(async (o: Common) => {
    const s = await withClient(o.archiver, (c) => c.stats());
    await printStats(s, o.json ?? false);
  });
}
