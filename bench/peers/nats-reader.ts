/**
 * The NATS JetStream consumer of the client-read comparison, in its own process like VCR's
 * reader: reads `--expect` messages of stream `--stream` from `--start-time` (DeliverPolicy
 * StartTime / opt_start_time) with either an ordered consumer or an ephemeral pull consumer
 * without acks (`--mode ordered|pull`), through `consume()` with a large buffer.
 * Prints one JSON line: {"events":N,"bytes":PAYLOAD_BYTES,"seconds":S}, seconds from the
 * consumer's creation to the last message.
 */
import { AckPolicy, connect, DeliverPolicy } from 'nats';

const argv = process.argv.slice(2);
const opt = (name: string, dflt?: string) => {
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : dflt;
  if (v === undefined) throw new Error(`nats-reader: ${name} is required`);
  return v;
};
const port = Number(opt('--port'));
const stream = opt('--stream');
const startTime = opt('--start-time');
const expect = Number(opt('--expect'));
const mode = opt('--mode', 'ordered');
const maxBytes = Number(opt('--max-bytes', String(64 * 1024 * 1024)));

const deadline = setTimeout(() => {
  process.stderr.write('nats-reader: deadline of 300 s reached\n');
  process.exit(1);
}, 300_000);
deadline.unref();

const nc = await connect({ servers: `127.0.0.1:${port}` });
const js = nc.jetstream();
const t0 = process.hrtime.bigint();
let consumer;
if (mode === 'pull') {
  const jsm = await nc.jetstreamManager();
  const ci = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime, inactive_threshold: 60e9 });
  consumer = await js.consumers.get(stream, ci.name);
} else {
  consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime });
}
const messages = await consumer.consume({ max_bytes: maxBytes });
let events = 0;
let bytes = 0;
for await (const m of messages) {
  events++;
  bytes += m.data.length;
  if (events >= expect) break;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await nc.close();
process.stdout.write(JSON.stringify({ events, bytes, seconds }) + '\n');
process.exit(0);
