/**
 * The baseline of the file-ingest benchmark: a plain Node loop that reads a file in 256 KiB
 * chunks (`fs.readSync`, the file source's default chunk size) and splits it into lines
 * (`indexOf` of the separator), counting them; nothing is stored.
 * Usage: line-split-baseline PATH. Prints {"events":N,"loopSeconds":S} (S: the loop alone,
 * without Node's start-up).
 */
import { closeSync, openSync, readSync } from 'node:fs';

const path = process.argv[2];
if (!path) throw new Error('usage: line-split-baseline PATH');
const t0 = process.hrtime.bigint();
const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(256 * 1024);
let carry = 0;
let events = 0;
let bytes = 0;
for (;;) {
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  if (n <= 0) break;
  const end = carry + n;
  let start = 0;
  for (let j = buf.indexOf(10, start); j >= 0 && j < end; j = buf.indexOf(10, start)) {
    events++;
    bytes += j - start;
    start = j + 1;
  }
  carry = end - start;
  buf.copy(buf, 0, start, end);
}
if (carry > 0) events++;
closeSync(fd);
const loopSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(JSON.stringify({ events, bytes, loopSeconds }) + '\n');
