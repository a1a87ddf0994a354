/**
 * Child process of the scaling benchmark: appends N small recordings (one 200-byte event
 * each, dealt over 100 channel names, 64 KiB segments: the smallest allowed) to the archive
 * in DIR through src/storage, and prints {"seconds":S,"recordingIds":[first,last]}.
 * The storage engine makes each file it creates durable (fsync of metadata, index and
 * catalog writes: ~7 ms a recording on this disk, 12 minutes for 100k); this fixture is
 * made to be read, not to survive a power cut, so this process turns fsync into a no-op
 * before it loads the storage code. The files are byte for byte what the archiver writes.
 * A stopped recording keeps its segment and metadata mappings until a garbage collection
 * finalizes their buffers, and creating recordings makes too little garbage to trigger one:
 * at ~32k stopped recordings the process reached vm.max_map_count (65,530 mappings) and died.
 * So this process runs with --expose-gc, collects every 1,000 recordings and yields to the
 * event loop so the finalizers run.
 * Usage: node --expose-gc many-recordings DIR N
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

fs.fsyncSync = () => undefined;
syncBuiltinESMExports();
const { Archive } = await import('../../src/storage/archive.js');

const [dir, countArg] = process.argv.slice(2);
if (!dir || !countArg) throw new Error('usage: many-recordings DIR N');
const count = Number(countArg);
const t0 = process.hrtime.bigint();
const archive = Archive.open(dir, { segmentLength: 64 * 1024 });
const payload = Buffer.alloc(200, 0x78);
const utc0 = (BigInt(Date.now()) - 86_400_000n) * 1_000_000n;
let first = -1;
let last = -1;
for (let i = 0; i < count; i++) {
  const t = utc0 + BigInt(i) * 1_000_000n;
  const w = archive.createRecording({ channel: `scale.${i % 100}`, source: 'udp://127.0.0.1:9', startUtcNs: t, startMonoNs: t });
  w.append(payload, 0, payload.length, t, t);
  w.stop();
  if (first < 0) first = w.recordingId;
  if (i % 1000 === 999) {
    // the mappings go when their buffers' finalizers run, after the collection, on a later turn
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 1));
  }
  last = w.recordingId;
}
archive.close();
process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, recordingIds: [first, last] }) + '\n');
