/**
 * A client process reading recorded events back the way a user's program does, through the
 * public client API only (`ArchiveClient.connect`, `events()`), so it keeps measuring the
 * user's view whatever transport carries the events underneath.
 * Usage: vcr-reader --archiver HOST:PORT --channel NAME [--channel NAME ...] --from NS --to NS
 * Prints one JSON line: {"events":N,"bytes":PAYLOAD_BYTES,"seconds":S,"ordered":true|false,"retries":R|null}
 * where seconds runs from the events() call to the last event (the connect is not counted).
 */
import { ArchiveClient } from '../../src/client/index.js';

const argv = process.argv.slice(2);
const all = (name: string) => argv.flatMap((a, i) => (a === name && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
const one = (name: string) => {
  const v = all(name)[0];
  if (v === undefined) throw new Error(`vcr-reader: ${name} is required`);
  return v;
};

const deadline = setTimeout(() => {
  process.stderr.write('vcr-reader: deadline of 300 s reached\n');
  process.exit(1);
}, 300_000);
deadline.unref();

const client = await ArchiveClient.connect({ archiver: one('--archiver') });
let events = 0;
let bytes = 0;
let ordered = true;
let lastUtc = -1n;
const t0 = process.hrtime.bigint();
for await (const e of client.events({ channels: all('--channel'), fromUtcNs: BigInt(one('--from')), toUtcNs: BigInt(one('--to')) })) {
  events++;
  bytes += e.payload.length;
  if (e.utcNs < lastUtc) ordered = false;
  lastUtc = e.utcNs;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
// requests the client library re-sent (lost datagrams on a UDP control channel): a diagnostic
// only, read when the client has it (null otherwise) so that a client without it, e.g. on a
// TCP transport, still builds and runs this reader unchanged
const retries = (client as unknown as { retryCount?: number }).retryCount ?? null;
await client.close();
process.stdout.write(JSON.stringify({ events, bytes, seconds, ordered, retries }) + '\n');
process.exit(0);
