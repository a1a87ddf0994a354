/**
 * `vcr replay` (SPEC §3): to UDP the archiver replays (one recording, or channels merged by
 * time, each to its own destination) and this command waits for the ReplayEnded
 * notification; to a file or stdout the CLI reads reliably and writes each payload followed
 * by the separator, except after an event flagged UNTERMINATED (its input ended without one),
 * so a recorded file comes back byte for byte. Every failed open, write or close of the output
 * is OUTPUT_FAILED (exit 1).
 */
import type { Command } from 'commander';
import type { ArchiveClient } from '../../client/archive-client.js';
import { NotificationKind, type Notification } from '../../client/notifications.js';
import { EventFlags, type RecordedEvent } from '../../client/types.js';
import { DEFAULT_SEPARATOR } from '../../util/separator.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import {
  addArchiverOption,
  addJsonOption,
  collect,
  nowUtcNs,
  parseCount,
  parseMapEntry,
  parseRecordingId,
  parseSeparatorArg,
  parseSpeed,
  parseTimeArg,
  parseUdpUri,
} from '../args.js';
import { UsageError } from '../errors.js';
import { interrupts } from '../interrupt.js';
import { OutputWriter } from '../output-file.js';
import { info, printJson } from '../output.js';

/** How often a UDP replay's waiter checks that the replay is still live. */
const REPLAY_POLL_MS = 2000;
import { withClient } from '../session.js';

interface ReplayOptions {
  recording?: string;
  position?: string;
  length?: string;
  channel?: string[];
  from?: string;
  to?: string;
  dest?: string;
  map?: string[];
  output?: string;
  separator?: string;
  speed?: string;
  follow?: boolean;
  archiver: string;
  json?: boolean;
}

/** What to replay, checked. */
type Selection =
  | { kind: 'recording'; recordingId: number; position?: number; length?: number }
  | { kind: 'channels'; channels: string[]; fromUtcNs: bigint; toUtcNs?: bigint };

type Target =
  | { kind: 'udp'; channels: { channel: string; destination: string }[]; destination?: string }
  | { kind: 'output'; path: string; separator: Buffer };

export function parseReplayOptions(o: ReplayOptions): { selection: Selection; target: Target; speed: number; follow: boolean } {
  const now = nowUtcNs();
  const channels = [...(o.channel ?? [])];
  const maps = (o.map ?? []).map(parseMapEntry);
  if (o.recording !== undefined && (channels.length > 0 || o.from !== undefined || o.to !== undefined)) {
    throw new UsageError('replay: --recording ID cannot be combined with --channel/--from/--to');
  }
  if (o.recording !== undefined && maps.length > 0) throw new UsageError('replay: --map goes with --channel, not --recording (use --dest)');
  let selection: Selection;
  if (o.recording !== undefined) {
    selection = {
      kind: 'recording',
      recordingId: parseRecordingId('--recording', o.recording),
      position: o.position !== undefined ? parseCount('--position', o.position) : undefined,
      length: o.length !== undefined ? parseCount('--length', o.length) : undefined,
    };
  } else {
    if (o.position !== undefined || o.length !== undefined) throw new UsageError('replay: --position/--length go with --recording ID');
    for (const m of maps) if (!channels.includes(m.channel)) channels.push(m.channel);
    if (channels.length === 0) throw new UsageError('replay: give --recording ID, or --channel NAME ... with --from T --to T');
    if (o.from === undefined) throw new UsageError('replay: --channel needs --from T (and --to T)');
    if (o.to === undefined && !o.follow) throw new UsageError('replay: --channel needs --to T (or --follow to keep going)');
    const fromUtcNs = parseTimeArg('--from', o.from, now);
    const toUtcNs = o.to !== undefined ? parseTimeArg('--to', o.to, now) : undefined;
    if (toUtcNs !== undefined && toUtcNs < fromUtcNs) throw new UsageError('replay: --to is before --from');
    selection = { kind: 'channels', channels, fromUtcNs, toUtcNs };
  }

  const targets = [o.dest !== undefined, maps.length > 0, o.output !== undefined].filter(Boolean).length;
  if (targets !== 1) throw new UsageError('replay: give exactly one of --dest udp://HOST:PORT, --map NAME=udp://HOST:PORT ..., --output FILE|-');
  if (o.separator !== undefined && o.output === undefined) throw new UsageError('replay: --separator goes with --output');
  let target: Target;
  if (o.output !== undefined) {
    if (o.output === '') throw new UsageError('replay: --output needs a file name or - for stdout');
    target = { kind: 'output', path: o.output, separator: parseSeparatorArg('--separator', o.separator ?? DEFAULT_SEPARATOR) };
  } else if (o.dest !== undefined) {
    const destination = parseUdpUri('--dest', o.dest);
    const chans = selection.kind === 'channels' ? selection.channels : [];
    target = { kind: 'udp', destination, channels: chans.map((channel) => ({ channel, destination })) };
  } else {
    if (selection.kind === 'channels') {
      for (const c of selection.channels) {
        if (!maps.some((m) => m.channel === c)) throw new UsageError(`replay: channel '${c}' has no --map ${c}=udp://HOST:PORT`);
      }
    }
    target = { kind: 'udp', channels: maps };
  }
  // UDP replays default to real time; file/stdout output to as fast as possible
  const speed = o.speed !== undefined ? parseSpeed(o.speed) : target.kind === 'udp' ? 1 : 0;
  return { selection, target, speed, follow: o.follow ?? false };
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .description('replay a recording, or channels over a time interval, to UDP or to a file/stdout')
    .option('--recording <id>', 'recordingId to replay')
    .option('--position <p>', 'start position within the recording (a frame boundary)')
    .option('--length <l>', 'bytes of the recording to replay')
    .option('--channel <name>', 'channel to replay (repeatable)', collect)
    .option('--from <time>', 'start of the interval (ISO-8601, epoch ns, -5m)')
    .option('--to <time>', 'end of the interval')
    .option('--dest <uri>', 'udp://HOST:PORT[?interface=ADDR&ttl=N] for every channel')
    .option('--map <name=uri>', 'NAME=udp://HOST:PORT: a destination per channel (repeatable)', collect)
    .option('--output <file>', 'write payloads to FILE, or - for stdout')
    .option('--separator <sep>', 'percent-encoded bytes written after each payload (default %0A)')
    .option('--speed <x>', '1 real time, 10 ten times faster, 0 as fast as possible (default 1 to UDP, 0 to a file)')
    .option('--follow', 'keep going while the recording grows');
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: ReplayOptions) => {
    const p = parseReplayOptions(o);
    await withClient(o.archiver, async (client) => {
      if (p.target.kind === 'output') await replayToOutput(client, p.selection, p.target.path, p.target.separator, p.speed, p.follow, o.json ?? false);
      else await replayToUdp(client, p.selection, p.target, p.speed, p.follow, o.json ?? false);
    });
  });
}

async function replayToUdp(
  client: ArchiveClient,
  sel: Selection,
  target: Extract<Target, { kind: 'udp' }>,
  speed: number,
  follow: boolean,
  json: boolean,
): Promise<void> {
  const ended = new Map<number, Extract<Notification, { type: 'replayEnded' }>>();
  let wake: (() => void) | null = null;
  const onEnded: (() => void)[] = [];
  const unsubscribe = await client.subscribe(NotificationKind.replay, (n) => {
    if (n.type === 'replayEnded') {
      ended.set(n.replaySessionId, n);
      wake?.();
      for (const f of onEnded.splice(0)) f();
    }
  });
  try {
    const replaySessionId =
      sel.kind === 'recording'
        ? await client.replay({
            recordingId: sel.recordingId,
            position: sel.position,
            length: sel.length,
            destination: target.destination!,
            speed,
            follow,
          })
        : await client.replayChannels({ channels: target.channels, fromUtcNs: sel.fromUtcNs, toUtcNs: sel.toUtcNs, speed, follow });
    if (json) await printJson({ replaySessionId, started: true });
    else info(`replay session ${replaySessionId} started (speed ${speed}${follow ? ', follow' : ''})`);

    // Ctrl-C / SIGTERM: stop the replay in the archiver and let its ReplayEnded come in, so
    // the command reports how far it got (withClient then closes the session)
    const offInterrupt = interrupts.onInterrupt(async () => {
      await client.stopReplay(replaySessionId).catch(() => undefined);
      await Promise.race([endedNow(), new Promise((r) => setTimeout(r, 2000))]);
    });
    const endedNow = () =>
      new Promise<void>((resolve) => {
        if (ended.has(replaySessionId)) resolve();
        else onEnded.push(resolve);
      });
    try {
      // Notifications are best effort: if ReplayEnded is lost, the replay's absence from the
      // archiver's stats (which list live replays) ends the wait instead.
      let gone = false;
      const poll = setInterval(() => {
        client
          .stats()
          .then((s) => {
            if (!ended.has(replaySessionId) && !s.counters.has(`replay.${replaySessionId}.eventsSent`)) {
              gone = true;
              wake?.();
            }
          })
          .catch(() => undefined);
      }, REPLAY_POLL_MS);
      try {
        while (!ended.has(replaySessionId) && !gone) await new Promise<void>((resolve) => (wake = resolve));
      } finally {
        clearInterval(poll);
      }
      if (!ended.has(replaySessionId)) await new Promise((r) => setTimeout(r, 300)); // a notification may be on its way
      if (!ended.has(replaySessionId)) {
        if (json) await printJson({ replaySessionId, ended: true, notification: 'lost' });
        else info(`replay session ${replaySessionId} is no longer active (its ReplayEnded notification was lost)`);
        return;
      }
    } finally {
      offInterrupt();
    }
    const e = ended.get(replaySessionId)!;
    if (json) await printJson({ replaySessionId, eventsSent: e.eventsSent, bytesSent: e.bytesSent, reason: e.reason });
    else info(`replay session ${replaySessionId} ended (${e.reason}): ${e.eventsSent} events, ${e.bytesSent} bytes sent`);
    if (e.reason === 'error') {
      throw new VcrError((e.errorCode || ErrorCode.GENERIC) as never, `replay ${replaySessionId} failed: ${e.message}`);
    }
  } finally {
    await unsubscribe().catch(() => undefined);
  }
}

async function replayToOutput(
  client: ArchiveClient,
  sel: Selection,
  path: string,
  separator: Buffer,
  speed: number,
  follow: boolean,
  json: boolean,
): Promise<void> {
  // opened first: a file that cannot be written fails before anything is read
  const output = await OutputWriter.open(path);
  const events: AsyncIterable<RecordedEvent> =
    sel.kind === 'recording'
      ? client.read({ recordingId: sel.recordingId, position: sel.position, length: sel.length, follow })
      : client.events({ channels: sel.channels, fromUtcNs: sel.fromUtcNs, toUtcNs: sel.toUtcNs, follow });
  let count = 0;
  let bytes = 0;
  let base: { monoNs: bigint; wallMs: number } | null = null;
  try {
    for await (const e of events) {
      if (speed > 0) {
        if (!base) base = { monoNs: e.monoNs, wallMs: performance.now() };
        const due = base.wallMs + Number(e.monoNs - base.monoNs) / 1e6 / speed;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      await output.write(e.payload);
      // the input's last record had no separator: neither has the copy (byte-identical)
      if (!((e.flags ?? 0) & EventFlags.UNTERMINATED)) await output.write(separator);
      count++;
      bytes += e.payload.length;
    }
  } catch (err) {
    await output.close().catch(() => undefined);
    throw err;
  }
  await output.close();
  const summary = { events: count, bytes, output: path };
  if (json && path !== '-') await printJson(summary);
  else info(`replayed ${count} events (${bytes} payload bytes) to ${output.description}`);
}
