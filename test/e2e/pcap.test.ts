/**
 * pcap import and export end to end: a real archiver process, the real CLI, real tcpdump.
 * Captures built in the test (test/support/capture-writer.ts) and one written by
 * `tcpdump -w` on the loopback interface while the test sends datagrams are imported and read
 * back with `vcr events`; exports are listed by `tcpdump -r` with nanosecond times; export then
 * import gives the same payloads and UTC times; a truncated capture keeps what was read and
 * ends with CAPTURE_TRUNCATED; an event larger than a datagram is refused (EVENT_TOO_LARGE).
 * Source addresses: a UDP recording and an import keep each datagram's source address and
 * port (`vcr events --json` shows them), and an export writes them, with the recording's UDP
 * endpoint as destination; events without a recorded source get the --src/--dst placeholders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveClient } from '../../src/client/archive-client.js';
import { scanCaptureFile } from '../../src/pcap/capture-scan.js';
import { freeUdpPort, jsonLines, sendDatagrams, startArchiver, stopAll, tempDir, until, vcr, type ArchiverProcess } from './harness.js';
import { ethernet, ipv4, ipv6, pcapFile, pcapngFile, udp } from '../support/capture-writer.js';

let archiver: ArchiverProcess;
let client: ArchiveClient;
let A: string[];
let dir: string;

function haveTcpdump(): boolean {
  if (spawnSync('tcpdump', ['--version']).status === 0) return true;
  spawnSync('apt-get', ['install', '-y', 'tcpdump'], { stdio: 'ignore', timeout: 120_000 });
  return spawnSync('tcpdump', ['--version']).status === 0;
}

beforeAll(async () => {
  expect(haveTcpdump()).toBe(true);
  dir = tempDir('vcr-pcap-e2e-');
  archiver = await startArchiver(join(dir, 'archive'));
  A = ['--archiver', archiver.control];
  client = await ArchiveClient.connect({ archiver: archiver.control });
});

afterAll(async () => {
  await client?.close();
  await stopAll();
});

const T0 = 1_650_000_000_000_000_000n;
const A6 = 'fd00:0:0:0:0:0:0:1';
const B6 = 'fd00:0:0:0:0:0:0:2';

async function eventsOf(channel: string) {
  const r = await vcr(['events', '--channel', channel, '--from', '0', '--to', 'now', '--json', ...A]);
  expect(r.status, r.stderr).toBe(0);
  return jsonLines(r.stdout).map((e) => ({
    payload: Buffer.from(e.payload as string, 'base64').toString(),
    utcNs: BigInt(e.utcNs as string),
    monoNs: BigInt(e.monoNs as string),
    source: e.source as { address: string; port: number } | undefined,
  }));
}

/** `tcpdump -r` with nanosecond times: [time ns, rest of the line]. */
function tcpdumpRead(path: string, extra: string[] = []): { utcNs: bigint; line: string }[] {
  const r = spawnSync('tcpdump', ['-r', path, '-nn', '-tt', '--time-stamp-precision=nano', ...extra], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => /^\d+\.\d{9} /.test(l))
    .map((l) => {
      const [t, ...rest] = l.split(' ');
      const [s, ns] = t!.split('.');
      return { utcNs: BigInt(s!) * 1_000_000_000n + BigInt(ns!), line: rest.join(' ') };
    });
}

describe('vcr import', () => {
  it('imports a generated pcap: payloads, capture times, monotonic gaps, skipped packets counted', async () => {
    const frames = [
      ethernet(0x0800, ipv4('10.1.1.1', '10.1.1.2', udp(1, 5000, Buffer.from('first')))),
      ethernet(0x0800, ipv4('10.1.1.1', '10.1.1.2', Buffer.alloc(20), { protocol: 6 })),
      ethernet(0x0800, ipv4('10.1.1.1', '10.1.1.2', udp(1, 5001, Buffer.from('other port')))),
      ethernet(0x0800, ipv4('10.1.1.1', '10.1.1.2', udp(1, 5000, Buffer.from('frag')), { moreFragments: true })),
      ethernet(0x86dd, ipv6(A6, B6, 17, udp(1, 5000, Buffer.from('second, v6'))), [0x8100]),
    ];
    const times = [T0, T0 + 1_000n, T0 + 2_000n, T0 + 3_000n, T0 + 250_000_123n];
    const path = join(dir, 'gen.pcap');
    writeFileSync(path, pcapFile({ endian: 'be', nano: true, linkType: 1 }, frames.map((frame, i) => ({ tsNs: times[i]!, frame }))));
    const r = await vcr(['import', '--pcap', path, '--channel', 'pcap.gen', '--filter', 'udp and port 5000', '--json', ...A]);
    expect(r.status, r.stderr).toBe(0);
    const summary = jsonLines(r.stdout)[0]!;
    expect(summary).toMatchObject({ channel: 'pcap.gen', events: 2, packets: 5, format: 'pcap', state: 'stopped', firstUtcNs: String(T0), lastUtcNs: String(times[4]) });
    expect(summary.skipped).toMatchObject({ notUdp: 1, filtered: 1, fragments: 1 });
    const ev = await eventsOf('pcap.gen');
    expect(ev.map((e) => e.payload)).toEqual(['first', 'second, v6']);
    expect(ev.map((e) => e.source)).toEqual([
      { address: '10.1.1.1', port: 1 },
      { address: 'fd00::1', port: 1 },
    ]);
    expect(ev.map((e) => e.utcNs)).toEqual([T0, times[4]]);
    expect(ev[1]!.monoNs - ev[0]!.monoNs).toBe(times[4]! - T0);
  });

  it('imports a generated pcapng (big-endian, nanosecond interface)', async () => {
    const path = join(dir, 'gen.pcapng');
    writeFileSync(
      path,
      pcapngFile('be', [
        { kind: 'shb' },
        { kind: 'idb', iface: { linkType: 101, tsresol: 9 } },
        { kind: 'epb', iface: 0, ticks: T0 + 7n, frame: ipv4('10.0.0.1', '10.0.0.2', udp(9, 9, Buffer.from('ng one'))) },
        { kind: 'epb', iface: 0, ticks: T0 + 9n, frame: ipv4('10.0.0.1', '10.0.0.2', udp(9, 9, Buffer.from('ng two'))) },
      ]),
    );
    const r = await vcr(['import', '--pcap', path, '--channel', 'pcap.ng', ...A]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\n$/);
    expect(await eventsOf('pcap.ng')).toMatchObject([
      { payload: 'ng one', utcNs: T0 + 7n },
      { payload: 'ng two', utcNs: T0 + 9n },
    ]);
  });

  it('a truncated capture keeps what was read and ends with CAPTURE_TRUNCATED', async () => {
    const frames = ['kept 1', 'kept 2', 'lost'].map((p) => ethernet(0x0800, ipv4('10.0.0.1', '10.0.0.2', udp(1, 2, Buffer.from(p)))));
    const whole = pcapFile({ endian: 'le', nano: false, linkType: 1 }, frames.map((frame, i) => ({ tsNs: T0 + BigInt(i) * 1000n, frame })));
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, whole.subarray(0, whole.length - 3));
    const r = await vcr(['import', '--pcap', path, '--channel', 'pcap.cut', ...A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[CAPTURE_TRUNCATED\]/);
    expect((await eventsOf('pcap.cut')).map((e) => e.payload)).toEqual(['kept 1', 'kept 2']);
  });

  it('a file that is not a capture is refused before any recording exists', async () => {
    const path = join(dir, 'not-a-capture.txt');
    writeFileSync(path, 'hello\n'.repeat(10));
    const r = await vcr(['import', '--pcap', path, '--channel', 'pcap.bad', ...A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[CAPTURE_INVALID\]/);
    expect((await client.listRecordings({ channel: 'pcap.bad' })).length).toBe(0);
    const u = await vcr(['import', '--pcap', path, '--channel', 'pcap.bad', '--filter', 'tcp port 80', ...A]);
    expect(u.status).toBe(2);
  });

  it('imports what a real `tcpdump -w` captured on loopback', async () => {
    const port = await freeUdpPort();
    const path = join(dir, 'tcpdump.pcap');
    const td = spawn('tcpdump', ['-i', 'lo', '-U', '-w', path, 'udp', 'port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    td.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const listening = await until('tcpdump to listen', 10_000, async () => (/listening on/.test(err) ? 'yes' : /permission|Operation not permitted/i.test(err) ? 'denied' : td.exitCode !== null ? 'exited' : undefined));
    if (listening !== 'yes') {
      // the one case that needs capture rights: without them there is nothing to import
      console.warn(`tcpdump cannot capture here (${listening}): ${err.trim()}`);
      expect(listening).toBe('denied');
      return;
    }
    const payloads = Array.from({ length: 12 }, (_, i) => Buffer.from(`from tcpdump ${i} ${'z'.repeat(i * 37)}`));
    await sendDatagrams(port, payloads, payloads.map((_, i) => (i % 3) * 15));
    await until('tcpdump to write every datagram', 10_000, async () => scanCaptureFile(path).counts.datagrams >= payloads.length);
    td.kill('SIGTERM');
    await new Promise((r) => td.once('exit', r));
    const r = await vcr(['import', '--pcap', path, '--channel', 'pcap.tcpdump', '--port', String(port), ...A]);
    expect(r.status, r.stderr).toBe(0);
    const ev = await eventsOf('pcap.tcpdump');
    expect(ev.map((e) => e.payload)).toEqual(payloads.map(String));
    // the times tcpdump itself reads from its file
    expect(ev.map((e) => e.utcNs)).toEqual(tcpdumpRead(path).map((p) => p.utcNs));
  });
});

describe('vcr export', () => {
  it('writes a pcap that tcpdump lists with the right packets, nanosecond times and valid checksums', async () => {
    const rec = (await client.listRecordings({ channel: 'pcap.gen' }))[0]!;
    const out = join(dir, 'export.pcap');
    const r = await vcr(['export', '--pcap', out, '--recording', String(rec.recordingId), '--json', ...A]);
    expect(r.status, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ packets: 2 });
    const listed = tcpdumpRead(out, ['-vv']);
    const ev = await eventsOf('pcap.gen');
    // -vv prints two lines per packet: the IP header line carries the time
    expect(listed.map((p) => p.utcNs)).toEqual(ev.map((e) => e.utcNs));
    const text = spawnSync('tcpdump', ['-r', out, '-nn', '-vv'], { encoding: 'utf8' }).stdout;
    // the capture's recorded sources; an imported recording has no UDP endpoint: --dst's port, an address of the source's family
    expect(text.match(/[0-9a-f.:]+\.1 > [0-9a-f.:]+\.6000: \[udp sum ok\] UDP, length (\d+)/g)).toEqual([
      `10.1.1.1.1 > 192.0.2.2.6000: [udp sum ok] UDP, length ${ev[0]!.payload.length}`,
      `fd00::1.1 > 2001:db8::2.6000: [udp sum ok] UDP, length ${ev[1]!.payload.length}`,
    ]);
    expect(text).not.toMatch(/bad cksum/);
  });

  it('exports events without a recorded source with the --src/--dst placeholders (IPv6 here)', async () => {
    const path = join(dir, 'lines.txt');
    writeFileSync(path, 'line one\nline two\n');
    const start = await vcr(['record', 'start', '--channel', 'pcap.lines', '--source', `file://${path}`, ...A]);
    expect(start.status, start.stderr).toBe(0);
    const id = Number(start.stdout);
    await until('the file recorded', 10_000, async () => (await client.describeRecording(id)).state === 'stopped');
    expect((await eventsOf('pcap.lines')).map((e) => e.source)).toEqual([undefined, undefined]);
    const out = join(dir, 'export6.pcap');
    const r = await vcr(['export', '--pcap', out, '--channel', 'pcap.lines', '--from', '0', '--to', 'now', '--src', '[fd00::a]:1234', '--dst', '[fd00::b]:4321', ...A]);
    expect(r.status, r.stderr).toBe(0);
    const listed = tcpdumpRead(out);
    expect(listed).toHaveLength(2);
    for (const p of listed) expect(p.line).toMatch(/^IP6 fd00::a\.1234 > fd00::b\.4321: UDP, length \d+/);
  });

  it('a UDP recording keeps each datagram\'s source; events --json shows it and the export writes it, to the recording\'s endpoint', async () => {
    const port = await freeUdpPort();
    const start = await vcr(['record', 'start', '--channel', 'pcap.udp', '--source', `udp://127.0.0.1:${port}`, ...A]);
    expect(start.status, start.stderr).toBe(0);
    const id = Number(start.stdout);
    const senders = await Promise.all(['127.0.0.1', '127.0.0.2'].map(async (address) => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, address, r));
      return s;
    }));
    const sent: { payload: string; address: string; port: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const s = senders[i % 2]!;
      const payload = `datagram ${i}`;
      await new Promise<void>((r, j) => s.send(Buffer.from(payload), port, '127.0.0.1', (e) => (e ? j(e) : r())));
      sent.push({ payload, address: s.address().address, port: s.address().port });
    }
    await until('every datagram recorded', 10_000, async () => (await client.describeRecording(id)).eventCount >= 6);
    for (const s of senders) s.close();
    expect((await vcr(['record', 'stop', '--recording', String(id), ...A])).status).toBe(0);
    const ev = await eventsOf('pcap.udp');
    expect(ev.map((e) => [e.payload, e.source])).toEqual(sent.map((s) => [s.payload, { address: s.address, port: s.port }]));
    const out = join(dir, 'udp.pcap');
    const r = await vcr(['export', '--pcap', out, '--recording', String(id), ...A]);
    expect(r.status, r.stderr).toBe(0);
    expect(tcpdumpRead(out).map((p) => p.line)).toEqual(sent.map((s) => `IP ${s.address}.${s.port} > 127.0.0.1.${port}: UDP, length ${s.payload.length}`));
  });

  it('export then import gives the same payloads and UTC times', async () => {
    const out = join(dir, 'roundtrip.pcap');
    const r = await vcr(['export', '--pcap', out, '--channel', 'pcap.tcpdump', '--from', '0', '--to', 'now', ...A]);
    expect(r.status, r.stderr).toBe(0);
    const i = await vcr(['import', '--pcap', out, '--channel', 'pcap.roundtrip', ...A]);
    expect(i.status, i.stderr).toBe(0);
    const before = await eventsOf('pcap.tcpdump');
    const after = await eventsOf('pcap.roundtrip');
    expect(after.map((e) => [e.payload, e.utcNs])).toEqual(before.map((e) => [e.payload, e.utcNs]));
  });

  it('refuses an event larger than one UDP datagram', async () => {
    const path = join(dir, 'big.txt');
    writeFileSync(path, `small\n${'B'.repeat(70_000)}\n`);
    const start = await vcr(['record', 'start', '--channel', 'pcap.big', '--source', `file://${path}`, ...A]);
    expect(start.status, start.stderr).toBe(0);
    const id = Number(start.stdout);
    await until('the file recorded', 10_000, async () => (await client.describeRecording(id)).state === 'stopped');
    const r = await vcr(['export', '--pcap', join(dir, 'big.pcap'), '--recording', String(id), ...A]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[EVENT_TOO_LARGE\]/);
    expect(tcpdumpRead(join(dir, 'big.pcap'))).toHaveLength(1); // the packets before it stay readable
  });
});
