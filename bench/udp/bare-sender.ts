/**
 * The baseline of the UDP replay benchmark: a bare Node.js dgram sender loop that sends COUNT
 * datagrams of SIZE bytes to HOST:PORT as fast as it can, holding back (setImmediate) while
 * MAX_IN_FLIGHT sends are unacknowledged: the same flow control as the archiver's replay
 * sender, with none of the archive reading. Each datagram is a fresh buffer (the archiver
 * copies each payload too) starting with its sequence number (uint64 LE).
 * Usage: bare-sender HOST PORT COUNT SIZE [MAX_IN_FLIGHT]. Prints "start NS" (system monotonic
 * clock, as process.hrtime) when the loop starts and "sent N ELAPSED_NS ERRORS" when every
 * send has completed.
 */
import dgram from 'node:dgram';

const [host = '127.0.0.1', portArg = '0', countArg = '0', sizeArg = '100', inFlightArg = '2048'] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const size = Number(sizeArg);
const maxInFlight = Number(inFlightArg);
const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
let sent = 0;
let done = 0;
let errors = 0;
let inFlight = 0;
const start = process.hrtime.bigint();
process.stdout.write(`start ${start}\n`);

const onSent = (err: Error | null): void => {
  inFlight--;
  done++;
  if (err) errors++;
  if (done === count) {
    process.stdout.write(`sent ${sent} ${process.hrtime.bigint() - start} ${errors}\n`);
    socket.close();
  }
};

function pump(): void {
  while (sent < count && inFlight < maxInFlight) {
    const b = Buffer.allocUnsafe(size);
    b.fill(0x78, 8);
    b.writeBigUInt64LE(BigInt(sent), 0);
    inFlight++;
    sent++;
    socket.send(b, 0, size, port, host, onSent);
  }
  if (sent < count) setImmediate(pump);
}
if (count > 0) pump();
else socket.close();
