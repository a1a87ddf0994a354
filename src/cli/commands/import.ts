/**
 * `vcr import --pcap FILE --channel NAME`: records the UDP datagrams of a pcap/pcapng capture
 * as one recording of NAME, each dated with the capture's time. The archiver reads the file
 * itself, as the source `pcap:///ABS/PATH?...` (so the sources layer dates the events, as it
 * does for every source; docs/ARCHIVER.md "Packet captures"); this command builds that URI
 * from its options, starts the recording, waits for the source to end (RecordingStopped, or
 * the recording's state when a notification is lost), and reports what the capture held and
 * what was skipped, counted by the same decoder from the file where this command runs too.
 * A capture that breaks off keeps what was read and ends with its code (CAPTURE_TRUNCATED).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ArchiveClient } from '../../client/archive-client.js';
import type { Notification } from '../../client/notifications.js';
import { NotificationKind } from '../../protocol/constants.js';
import { scanCaptureFile, type CaptureScan } from '../../pcap/capture-scan.js';
import { filterToParams, parseFilterExpression, parseHost, parsePort, type CaptureFilter } from '../../pcap/capture-filter.js';
import { parseSourceUri } from '../../sources/uri.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { addArchiverOption, addJsonOption, collect, parseSpeed } from '../args.js';
import { UsageError } from '../errors.js';
import { interrupts } from '../interrupt.js';
import { humanTime, info, printJson, printLine } from '../output.js';
import { withClient } from '../session.js';

interface ImportOptions {
  pcap?: string;
  channel?: string;
  alias?: string[];
  filter?: string;
  port?: string;
  host?: string;
  speed?: string;
  asFastAsPossible?: boolean;
  archiver: string;
  json?: boolean;
}

const POLL_MS = 200;

/** The filter of --filter, --port and --host together (each term once). */
export function importFilter(o: Pick<ImportOptions, 'filter' | 'port' | 'host'>): CaptureFilter {
  let f: CaptureFilter = {};
  try {
    if (o.filter !== undefined) f = parseFilterExpression(o.filter);
    if (o.port !== undefined) {
      if (f.port !== undefined) throw new Error("'port' is given by both --port and --filter");
      f.port = parsePort('--port', o.port);
    }
    if (o.host !== undefined) {
      if (f.host !== undefined) throw new Error("'host' is given by both --host and --filter");
      f.host = parseHost('--host', o.host);
    }
  } catch (err) {
    throw new UsageError(`import: ${(err as Error).message}`);
  }
  return f;
}

export function pcapSourceUri(path: string, filter: CaptureFilter, speed: number): string {
  const params = filterToParams(filter).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  if (speed > 0) params.push(`speed=${speed}`);
  return `pcap://${encodeURI(path).replace(/\?/g, '%3F').replace(/#/g, '%23')}${params.length ? `?${params.join('&')}` : ''}`;
}

type Stopped = Extract<Notification, { type: 'recordingStopped' }>;

async function importCapture(client: ArchiveClient, channel: string, aliases: string[], source: string) {
  // a short capture may be recorded before the start's answer arrives: keep every stop seen
  const stops = new Map<number, Stopped>();
  let wake: (() => void) | undefined;
  const unsubscribe = await client.subscribe(NotificationKind.recording, (n) => {
    if (n.type === 'recordingStopped') {
      stops.set(n.recordingId, n);
      wake?.();
    }
  });
  try {
    const recordingId = await client.startRecording({ channel, source, aliases });
    const stoppedNow = (): Stopped | undefined => stops.get(recordingId);
    info(`importing into recording ${recordingId} of channel ${channel}`);
    // Ctrl-C: stop the import; what was recorded stays
    const offInterrupt = interrupts.onInterrupt(async () => {
      await client.stopRecording({ recordingId }).catch(() => undefined);
    });
    try {
      // notifications are best effort: the recording's state ends the wait when one is lost
      let gone = false;
      const poll = setInterval(() => {
        client
          .describeRecording(recordingId)
          .then((d) => {
            if (d.state !== 'recording') {
              gone = true;
              wake?.();
            }
          })
          .catch(() => undefined);
      }, POLL_MS);
      try {
        while (stoppedNow() === undefined && !gone) await new Promise<void>((r) => (wake = r));
      } finally {
        clearInterval(poll);
      }
      if (stoppedNow() === undefined) await new Promise((r) => setTimeout(r, 300)); // a notification may be on its way
    } finally {
      offInterrupt();
    }
    const d = await client.describeRecording(recordingId);
    return { recordingId, descriptor: d, stopped: stoppedNow() };
  } finally {
    await unsubscribe().catch(() => undefined);
  }
}

export function registerImport(program: Command): void {
  const cmd = program
    .command('import')
    .description('record the UDP datagrams of a pcap or pcapng capture as one recording, with the capture\'s times')
    .option('--pcap <file>', 'the capture (pcap or pcapng); the archiver reads it, so the path must be valid where it runs')
    .option('--channel <name>', 'channel name (primary)')
    .option('--alias <name>', 'another name for the channel (repeatable)', collect)
    .option('--filter <expr>', "which datagrams: terms 'udp', 'ip', 'ip6', '[src|dst] port N', '[src|dst] host ADDR' joined by 'and'")
    .option('--port <n>', "only datagrams from or to this UDP port (as --filter 'port N')")
    .option('--host <addr>', "only datagrams from or to this IP address (as --filter 'host A')")
    .option('--speed <x>', 'feed the archive at X times the capture\'s pace (1 = real time); the recorded times are the capture\'s either way')
    .option('--as-fast-as-possible', 'feed the archive as fast as it takes the datagrams (the default)');
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: ImportOptions) => {
    if (!o.pcap) throw new UsageError('import: --pcap FILE is required');
    if (!o.channel) throw new UsageError('import: --channel NAME is required');
    if (o.speed !== undefined && o.asFastAsPossible) throw new UsageError('import: give --speed X or --as-fast-as-possible, not both');
    const speed = o.speed !== undefined ? parseSpeed(o.speed) : 0;
    const filter = importFilter(o);
    const path = resolve(o.pcap);
    const source = pcapSourceUri(path, filter, speed);
    try {
      parseSourceUri(source);
    } catch (err) {
      throw new UsageError(`import: ${(err as Error).message}`);
    }
    const channel = o.channel;
    const { recordingId, descriptor, stopped } = await withClient(o.archiver, (c) => importCapture(c, channel, o.alias ?? [], source));
    // what the capture held, counted here by the same decoder (when the file is readable here too)
    let scan: CaptureScan | undefined;
    if (existsSync(path)) {
      try {
        scan = scanCaptureFile(path, filter);
      } catch {
        scan = undefined;
      }
    }
    const failed = stopped?.reason === 'error' || descriptor.state === 'failed';
    const c = scan?.counts;
    const summary = {
      recordingId,
      channel,
      source,
      events: descriptor.eventCount,
      firstUtcNs: descriptor.startUtcNs,
      lastUtcNs: descriptor.stopUtcNs,
      state: descriptor.state,
      ...(scan && c
        ? {
            format: scan.format,
            packets: c.packets,
            skipped: { notIp: c.notIp, notUdp: c.notUdp, filtered: c.filtered, fragments: c.fragments, truncated: c.truncated, malformed: c.malformed, unsupportedLink: c.unsupportedLink },
            untimed: c.untimed,
            reordered: c.reordered,
          }
        : {}),
      ...(failed ? { error: stopped ? { code: stopped.errorCode, message: stopped.message } : { code: scan?.error?.code ?? ErrorCode.GENERIC, message: scan?.error?.message ?? 'the recording failed' } } : {}),
    };
    if (o.json) await printJson(summary);
    else {
      await printLine(String(recordingId));
      info(`recording ${recordingId}: ${descriptor.eventCount} events from ${humanTime(descriptor.startUtcNs)} to ${humanTime(descriptor.stopUtcNs)}`);
      if (c) {
        const skipped = Object.entries(summary.skipped ?? {})
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`);
        info(`${scan!.format} capture: ${c.packets} packets, ${c.datagrams} UDP datagrams imported${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}${c.reordered ? `; ${c.reordered} dated earlier than their predecessor got its time` : ''}`);
      }
    }
    if (failed) {
      const code = (stopped?.errorCode || scan?.error?.code || ErrorCode.GENERIC) as never;
      throw new VcrError(code, `import into recording ${recordingId} ended early (${descriptor.eventCount} events kept): ${stopped?.message ?? 'the recording failed'}`);
    }
  });
}
