/**
 * The baseline of the UDP benchmarks: a bare Node.js dgram receiver that only counts
 * datagrams. Same receive buffer size as the archiver's UDP source, so the two differ only in
 * what they do per datagram. Usage: bare-receiver PORT [RCVBUF] [NPORTS]: binds PORT (0: any)
 * or, with NPORTS > 1, the NPORTS ports PORT..PORT+NPORTS-1 (the multi-port sender's layout).
 * Talks to the benchmark over stdin/stdout: prints "ready PORT" once bound, answers each
 * "count" line with "RECEIVED BYTES FIRST_NS LAST_NS" (receipt times of the first and last
 * datagram on the system monotonic clock, 0 before any), exits on "exit". With a 5th argument
 * "times" it also keeps every arrival time and answers "gaps EXPECTED_NS" with
 * "MEDIAN_NS P99_NS GAPS": the error |gap - EXPECTED_NS| of consecutive arrivals (paced replay).
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const port = Number(process.argv[2] ?? 0);
const recvBufferSize = Number(process.argv[3] ?? 8 << 20);
const nPorts = Math.max(1, Number(process.argv[4] ?? 1));
const keepTimes = process.argv[5] === 'times';
const times: bigint[] = [];
let received = 0;
let bytes = 0;
let firstNs = 0n;
let lastNs = 0n;

function onMessage(msg: Buffer): void {
  lastNs = process.hrtime.bigint();
  if (received === 0) firstNs = lastNs;
  if (keepTimes) times.push(lastNs);
  received++;
  bytes += msg.length;
}

function bind(p: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize });
    socket.on('message', onMessage);
    socket.once('error', reject);
    socket.bind(p, '127.0.0.1', () => resolve(socket.address().port));
  });
}

const bound: number[] = [];
for (let i = 0; i < nPorts; i++) bound.push(await bind(nPorts > 1 ? port + i : port));
process.stdout.write(`ready ${bound[0]}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'count') process.stdout.write(`${received} ${bytes} ${firstNs} ${lastNs}\n`);
  if (cmd.startsWith('gaps ')) {
    const expected = Number(cmd.slice(5));
    const errs: number[] = [];
    for (let i = 1; i < times.length; i++) errs.push(Math.abs(Number(times[i]! - times[i - 1]!) - expected));
    errs.sort((a, b) => a - b);
    const at = (q: number) => (errs.length ? errs[Math.min(errs.length - 1, Math.floor(q * errs.length))]! : -1);
    process.stdout.write(`${at(0.5)} ${at(0.99)} ${errs.length}\n`);
  }
  if (cmd === 'exit') process.exit(0);
});
