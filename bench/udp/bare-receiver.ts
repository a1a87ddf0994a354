/**
 * The baseline of the UDP record benchmark: a bare Node.js dgram receiver that only
 * counts datagrams. Same receive buffer size as the archiver's UDP source, so the two
 * differ only in what they do per datagram. Talks to the benchmark over stdin/stdout:
 * prints "ready PORT", answers each "count" line with the number received so far.
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const port = Number(process.argv[2] ?? 0);
const recvBufferSize = Number(process.argv[3] ?? 8 << 20);
let received = 0;
let bytes = 0;
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize });
socket.on('message', (msg) => {
  received++;
  bytes += msg.length;
});
socket.bind(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${socket.address().port}\n`);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`${received} ${bytes}\n`);
  if (line.trim() === 'exit') process.exit(0);
});
