/**
 * `vcr export --pcap FILE (--recording ID | --channel NAME ... --from T --to T)`: writes
 * recorded events as a classic pcap (nanosecond timestamps, Ethernet, one UDP/IP packet per
 * event: src/pcap/pcap-writer.ts) that tcpdump and Wireshark read. The events are read
 * reliably (a streamed replay), in timestamp order. Addresses (docs/FORMAT.md "Source address"):
 * a packet's source is the datagram's recorded source address and port, where the archive
 * recorded one (UDP recordings and capture imports of format 3 on), else --src; its
 * destination is the recording's UDP endpoint (the address it was bound to, when that is not
 * the unspecified 0.0.0.0 / ::, and its port), else --dst. --src and --dst default to the
 * documentation addresses 192.0.2.1:5000 and 192.0.2.2:6000 (RFC 5737); a destination address
 * must be of the source's IP family, so where neither fits, the IPv6 documentation address
 * 2001:db8::2 (RFC 3849) or 192.0.2.2 stands in. An event larger than one UDP datagram ends
 * the export with EVENT_TOO_LARGE; the file then holds the packets before it (a valid capture).
 */
import type { Command } from 'commander';
import type { RecordedEvent } from '../../client/types.js';
import { isIP } from 'node:net';
import { PcapWriter, type UdpAddress } from '../../pcap/pcap-writer.js';
import { parseSourceUri } from '../../sources/uri.js';
import { parseEndpoint } from '../../util/endpoint.js';
import { addArchiverOption, addJsonOption, collect, nowUtcNs, parseRecordingId, parseTimeArg } from '../args.js';
import { UsageError } from '../errors.js';
import { OutputWriter } from '../output-file.js';
import { info, printJson } from '../output.js';
import { withClient } from '../session.js';

export const DEFAULT_EXPORT_SRC = '192.0.2.1:5000';
export const DEFAULT_EXPORT_DST = '192.0.2.2:6000';

interface ExportOptions {
  pcap?: string;
  recording?: string;
  channel?: string[];
  from?: string;
  to?: string;
  src: string;
  dst: string;
  archiver: string;
  json?: boolean;
}

function udpAddress(flag: string, text: string): UdpAddress {
  try {
    const ep = parseEndpoint(text, { schemes: ['none', 'udp'], what: flag, allowPortZero: true });
    return { address: ep.host, port: ep.port };
  } catch (err) {
    throw new UsageError(`export: ${(err as Error).message}`);
  }
}

/** Documentation addresses that stand in for a destination of the other IP family. */
const FAMILY_PLACEHOLDER: Record<4 | 6, string> = { 4: '192.0.2.2', 6: '2001:db8::2' };

/** The UDP endpoint a recording listened on (its source URI), if it was a UDP recording. */
export function recordingEndpoint(sourceUri: string): UdpAddress | undefined {
  try {
    const spec = parseSourceUri(sourceUri);
    return spec.kind === 'udp' ? { address: spec.host, port: spec.port } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A packet's source and destination: the recorded source (else the --src placeholder) and the
 * recording's endpoint (else --dst), the destination's address of the source's family.
 */
export function packetAddresses(recorded: UdpAddress | undefined, endpoint: UdpAddress | undefined, src: UdpAddress, dst: UdpAddress): { from: UdpAddress; to: UdpAddress } {
  const from = recorded ?? src;
  const family = isIP(from.address) === 6 ? 6 : 4;
  const usable = (a: string | undefined): a is string => a !== undefined && isIP(a) === family && a !== '0.0.0.0' && a !== '::';
  const address = usable(endpoint?.address) ? endpoint.address : usable(dst.address) ? dst.address : FAMILY_PLACEHOLDER[family];
  return { from, to: { address, port: endpoint?.port ?? dst.port } };
}

export function registerExport(program: Command): void {
  const cmd = program
    .command('export')
    .description('write recorded events as a pcap file (UDP packets, nanosecond times) for tcpdump and Wireshark')
    .option('--pcap <file>', "the pcap file to write ('-' for stdout)")
    .option('--recording <id>', 'one recording, whole')
    .option('--channel <name>', 'channel name or alias (repeatable), with --from and --to', collect)
    .option('--from <time>', 'start of the interval (ISO-8601, epoch ns, -5m)')
    .option('--to <time>', 'end of the interval')
    .option('--src <addr:port>', 'source address and port of packets whose event has no recorded source', DEFAULT_EXPORT_SRC)
    .option('--dst <addr:port>', 'destination of packets whose recording was not made from a UDP endpoint', DEFAULT_EXPORT_DST);
  addJsonOption(addArchiverOption(cmd));
  cmd.action(async (o: ExportOptions) => {
    if (!o.pcap) throw new UsageError('export: --pcap FILE is required');
    if (o.pcap === '-' && o.json) throw new UsageError('export: --json cannot share stdout with --pcap -');
    const channels = o.channel ?? [];
    if ((o.recording !== undefined) === channels.length > 0) throw new UsageError('export: give --recording ID or --channel NAME ... --from T --to T');
    let select: { recordingId: number } | { channels: string[]; fromUtcNs: bigint; toUtcNs: bigint };
    if (o.recording !== undefined) {
      if (o.from !== undefined || o.to !== undefined) throw new UsageError('export: --from/--to go with --channel, not --recording');
      select = { recordingId: parseRecordingId('--recording', o.recording) };
    } else {
      if (o.from === undefined || o.to === undefined) throw new UsageError('export: --channel needs --from T and --to T');
      const now = nowUtcNs();
      const fromUtcNs = parseTimeArg('--from', o.from, now);
      const toUtcNs = parseTimeArg('--to', o.to, now);
      if (toUtcNs < fromUtcNs) throw new UsageError('export: --to is before --from');
      select = { channels, fromUtcNs, toUtcNs };
    }
    const src = udpAddress('--src', o.src);
    const dst = udpAddress('--dst', o.dst);
    let writer: PcapWriter;
    try {
      writer = new PcapWriter(async () => undefined, src, dst);
    } catch (err) {
      throw new UsageError(`export: ${(err as Error).message}`);
    }
    const output = await OutputWriter.open(o.pcap);
    writer = new PcapWriter((bytes) => output.write(bytes), src, dst);
    let events = 0;
    try {
      await writer.writeHeader();
      await withClient(o.archiver, async (client) => {
        const source: AsyncIterable<RecordedEvent> = 'recordingId' in select ? client.read({ recordingId: select.recordingId }) : client.events(select);
        const endpoints = new Map<number, UdpAddress | undefined>();
        for await (const e of source) {
          if (!endpoints.has(e.recordingId)) endpoints.set(e.recordingId, recordingEndpoint((await client.describeRecording(e.recordingId)).source));
          const { from, to } = packetAddresses(e.source, endpoints.get(e.recordingId), src, dst);
          await writer.writeDatagram(e.payload, e.utcNs, `event at position ${e.position} of recording ${e.recordingId}`, from, to);
          events++;
        }
      });
    } finally {
      await output.close();
    }
    if (o.json) await printJson({ file: o.pcap, packets: events, bytes: writer.bytes + 24, src: `${o.src}`, dst: `${o.dst}` });
    else if (o.pcap !== '-') info(`wrote ${events} packets to ${o.pcap}`);
  });
}
