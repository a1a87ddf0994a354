/**
 * `vcr record start|stop` (SPEC §3). `record start` prints the recordingId; with a UDP source
 * on port 0 it also says on stderr which port was bound (from the recording's descriptor).
 */
import type { Command } from 'commander';
import { addArchiverOption, addJsonOption, collect, parseRecordingId, parseSourceUri } from '../args.js';
import { UsageError } from '../errors.js';
import { parseSourceUri as parseSource } from '../../sources/uri.js';
import { info, printJson, printLine } from '../output.js';
import { withClient } from '../session.js';

interface StartOptions {
  channel?: string;
  source?: string;
  alias?: string[];
  archiver: string;
  json?: boolean;
}

interface StopOptions {
  channel?: string;
  recording?: string;
  archiver: string;
  json?: boolean;
}

function wantsBoundPort(source: string): boolean {
  const spec = parseSource(source);
  return spec.kind === 'udp' && spec.port === 0;
}

export function registerRecord(program: Command): void {
  const record = program.command('record').description('start or stop recording a channel');

  const start = record
    .command('start')
    .description('record a source under a channel name; prints the recordingId')
    .option('--channel <name>', 'channel name (primary)')
    .option('--source <uri>', 'udp://HOST:PORT, udp://GROUP:PORT?interface=ADDR, file:///PATH?separator=SEP[&follow=true], stdin:?separator=SEP, pcap:///PATH[?port=N]')
    .option('--alias <name>', 'another name for the channel (repeatable)', collect);
  addJsonOption(addArchiverOption(start));
  start.action(async (o: StartOptions) => {
    if (!o.channel) throw new UsageError('record start: --channel NAME is required');
    if (!o.source) throw new UsageError('record start: --source URI is required');
    const source = parseSourceUri(o.source);
    const channel = o.channel;
    const aliases = o.alias ?? [];
    const { recordingId, bound } = await withClient(o.archiver, async (c) => {
      const id = await c.startRecording({ channel, source, aliases });
      // a UDP port 0 binds any free port: say which one (the recording's descriptor holds it)
      const d = wantsBoundPort(source) ? await c.describeRecording(id).catch(() => undefined) : undefined;
      return { recordingId: id, bound: d?.source };
    });
    if (bound !== undefined) info(`recording ${recordingId} receives on ${bound}`);
    if (o.json) await printJson({ recordingId, channel, aliases, source, ...(bound !== undefined ? { boundSource: bound } : {}) });
    else await printLine(String(recordingId));
  });

  const stop = record
    .command('stop')
    .description('stop recording a channel (by name) or a recording (by id)')
    .option('--channel <name>', 'channel name or alias')
    .option('--recording <id>', 'recordingId');
  addJsonOption(addArchiverOption(stop));
  stop.action(async (o: StopOptions) => {
    if ((o.channel === undefined) === (o.recording === undefined)) {
      throw new UsageError('record stop: give exactly one of --channel NAME or --recording ID');
    }
    const target = o.recording !== undefined ? { recordingId: parseRecordingId('--recording', o.recording) } : { channel: o.channel! };
    const stopped = await withClient(o.archiver, (c) => c.stopRecording(target));
    if (o.json) await printJson({ recordingId: stopped, stopped: true });
    else await printLine(String(stopped));
  });
}
