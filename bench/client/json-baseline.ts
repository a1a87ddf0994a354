/**
 * The baseline of `vcr events --json`: the same JSON Lines records (SPEC §3: channel,
 * recordingId, position, utcNs and monoNs as decimal strings, payload in base64), built and
 * `JSON.stringify`-ed in a plain loop and written to stdout in 64 KiB batches, with no archive
 * and no client behind them: what printing costs when JSON formatting is all there is.
 * Usage: json-baseline COUNT SIZE CHANNEL RECORDING_ID UTC0_NS STEP_NS (stdout: the records)
 */
import { writeSync } from 'node:fs';

const [countArg = '0', sizeArg = '200', channel = 'bench', recArg = '0', utc0Arg = '0', stepArg = '1000'] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
const recordingId = Number(recArg);
const utc0 = BigInt(utc0Arg);
const step = BigInt(stepArg);
const FRAME = 32 + ((size + 31) & ~31);
const payload = Buffer.alloc(size, 0x78);
let out = '';
for (let i = 0; i < count; i++) {
  payload.writeBigUInt64LE(BigInt(i), 0);
  const t = utc0 + BigInt(i) * step;
  out += JSON.stringify({ channel, recordingId, position: i * FRAME, utcNs: t.toString(), monoNs: t.toString(), payload: payload.toString('base64') }) + '\n';
  if (out.length >= 65_536) {
    writeSync(1, out);
    out = '';
  }
}
if (out.length > 0) writeSync(1, out);
