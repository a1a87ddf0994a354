import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSocket } from 'node:dgram';
import { main } from '../../src/cli/main.js';
import { vcr } from './run.js';

/** Runs the CLI in this process (fast), capturing stdout, stderr and the exit status it sets. */
async function vcrInProcess(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    process.exitCode = undefined;
    await main(['node', 'vcr', ...args]);
    return { status: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

/** Each case: arguments, and a fragment the message must contain to be helpful. */
const BAD: [string[], RegExp][] = [
  [['record', 'start', '--source', 'udp://127.0.0.1:9000'], /--channel/],
  [['record', 'start', '--channel', 'a'], /--source/],
  [['record', 'start', '--channel', 'a', '--source', 'tcp://x:1'], /--source: invalid source .*unsupported scheme/],
  [['record', 'start', '--channel', 'a', '--source', 'udp://example.com:1'], /--source: .*host names are not supported/],
  [['record', 'start', '--channel', 'a', '--source', 'udp://127.0.0.1:1', '--bogus'], /unknown option/],
  [['record', 'stop'], /exactly one of --channel NAME or --recording ID/],
  [['import', '--channel', 'a'], /--pcap FILE is required/],
  [['import', '--pcap', 'x.pcap'], /--channel NAME is required/],
  [['import', '--pcap', 'x.pcap', '--channel', 'a', '--filter', 'tcp port 80'], /filter: 'tcp' is not supported/],
  [['import', '--pcap', 'x.pcap', '--channel', 'a', '--filter', 'port 1 or port 2'], /joined by 'and' only/],
  [['import', '--pcap', 'x.pcap', '--channel', 'a', '--port', '1', '--filter', 'port 2'], /both --port and --filter/],
  [['import', '--pcap', 'x.pcap', '--channel', 'a', '--host', 'example.com'], /not an IP address/],
  [['import', '--pcap', 'x.pcap', '--channel', 'a', '--speed', '2', '--as-fast-as-possible'], /not both/],
  [['export', '--pcap', 'x.pcap'], /--recording ID or --channel NAME/],
  [['export', '--pcap', 'x.pcap', '--channel', 'a', '--from', '-5m'], /--channel needs --from T and --to T/],
  [['export', '--pcap', 'x.pcap', '--recording', '1', '--src', '10.0.0.1:1', '--dst', '[fd00::1]:2'], /different IP families/],
  [['export', '--pcap', 'x.pcap', '--recording', '1', '--src', 'host:1'], /--src/],
  [['record', 'stop', '--channel', 'a', '--recording', '1'], /exactly one/],
  [['record', 'stop', '--recording', 'abc'], /--recording: 'abc' is not a non-negative integer/],
  [['replay', '--recording', '1'], /exactly one of --dest/],
  [['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:9', '--output', 'x'], /exactly one of --dest/],
  [['replay', '--recording', '1', '--dest', 'http://127.0.0.1:9'], /--dest: destination .*expected udp:\/\/HOST:PORT/],
  [['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:99999'], /port '99999' is not a number/],
  [['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:9?ttl=300'], /ttl .* from 0 to 255/],
  [['replay', '--channel', 'a', '--from', 'yesterday-ish', '--to', 'now', '--dest', 'udp://127.0.0.1:9'], /--from: invalid time 'yesterday-ish'/],
  [['replay', '--channel', 'a', '--from', '-5m', '--to', '-10m', '--dest', 'udp://127.0.0.1:9'], /--to is before --from/],
  [['replay', '--channel', 'a', '--to', 'now', '--dest', 'udp://127.0.0.1:9'], /--from/],
  [['replay', '--recording', '1', '--channel', 'a', '--dest', 'udp://127.0.0.1:9'], /cannot be combined/],
  [['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:9', '--speed', '-1'], /--speed/],
  [['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:9', '--separator', '%0A'], /--separator goes with --output/],
  [['replay', '--recording', '1', '--output', '-', '--separator', '%G1'], /--separator: .*two hex digits/],
  [['replay', '--channel', 'a', '--channel', 'b', '--from', '-1m', '--to', 'now', '--map', 'a=udp://127.0.0.1:9'], /channel 'b' has no --map/],
  [['events', '--from', '-5m', '--to', 'now'], /--channel/],
  [['events', '--channel', 'a', '--from', '2024-13-01T00:00:00Z', '--to', 'now'], /month 13 out of range/],
  [['query', 'describe', 'x'], /recordingId: 'x' is not a non-negative integer/],
  [['query', 'list', '--state', 'sleeping'], /--state must be one of/],
  [['query', 'list', '--archiver', 'localhost'], /--archiver: archiver "localhost": expected HOST:PORT/],
  [['quarantine', 'add', '--channel', 'a'], /--from T and --to T are required/],
  [['quarantine', 'remove', '3', '--channel', 'a'], /not both/],
  [['delete', '--channel', 'a', '--from', '-5m'], /--from T and --to T are required/],
  [['delete', '--from', 'now', '--to', '5'], /--to is before --from/],
];

describe('vcr bad usage exits 2 with a message naming the problem', () => {
  it.each(BAD)('vcr %j', async (args, message) => {
    const r = await vcrInProcess(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('the real executable', () => {
  it('exits 2 on bad usage, with the message on stderr and nothing on stdout', async () => {
    const r = await vcr(['replay', '--recording', '1', '--dest', 'udp://127.0.0.1:9', '--output', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/exactly one of --dest/);
    expect(r.stdout).toBe('');
  });
});

describe('vcr with no archiver listening', () => {
  it('exits 1 and says the archiver did not answer (TIMEOUT)', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    const r = await vcr(['query', 'list', '--archiver', `127.0.0.1:${port}`], { env: { VCR_TIMEOUT_MS: '100', VCR_ATTEMPTS: '2' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no answer from the archiver at 127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/\[TIMEOUT\]/);
  });
});
