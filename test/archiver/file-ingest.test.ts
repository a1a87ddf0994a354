/**
 * A big file recorded through a real archiver: control requests are answered while it is
 * being ingested (the duty cycle bounds the work per recording), and everything is kept, with
 * the bad input handled: a record longer than the maximum event size is skipped and counted,
 * the last line without a separator is recorded flagged UNTERMINATED.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { Archive } from '../../src/storage/archive.js';
import { FrameFlags } from '../../src/storage/layout.js';
import { verifyArchive } from '../../src/storage/verify.js';
import { RawClient, decodeDescriptor, decodeStats, decodeStopped, launchArchiver, removeDir, templateOf, until } from './support.js';

const LINES = 400_000;
const LINE = 100;
const RECORDING = 1;

describe('file ingest through the archiver', () => {
  let archiver: Archiver;
  let dir: string;
  let c: RawClient;

  beforeEach(async () => {
    ({ archiver, dir } = await launchArchiver({}));
    c = await RawClient.connect(archiver.controlPort);
  });

  afterEach(async () => {
    c.close();
    await archiver.close();
    removeDir(dir);
  });

  it('answers control requests during a big ingest and keeps every line, the bad ones handled', async () => {
    await c.call((ids) => c.proxy.subscribeNotifications(ids, 0x1f));
    const buf = Buffer.alloc(LINES * LINE, 0x78);
    for (let i = 0; i < LINES; i++) {
      buf.write(`line ${i} `, i * LINE, 'latin1');
      buf[i * LINE + LINE - 1] = 0x0a;
    }
    const tooLong = Buffer.alloc(5000, 0x7a); // over the source's maxEventSize below
    const file = join(dir, 'big.log');
    writeFileSync(file, Buffer.concat([buf.subarray(0, (LINES / 2) * LINE), tooLong, Buffer.from('\n'), buf.subarray((LINES / 2) * LINE), Buffer.from('last, no newline')]));
    const start = await c.call((ids) => c.proxy.startRecording(ids, 'big.file', `file://${file}?maxEventSize=4096`, []));
    expect(start.response.ok).toBe(true);
    const recordingId = Number(start.response.relevantId);
    // describe it again and again while it records: answers come while lines are still being read
    const seen: { state: number; eventCount: number }[] = [];
    for (;;) {
      const d = decodeDescriptor((await c.call((ids) => c.proxy.describeRecording(ids, recordingId))).data[0]!);
      seen.push({ state: d.state, eventCount: d.eventCount });
      if (d.state !== RECORDING) break;
    }
    const during = seen.filter((s) => s.state === RECORDING && s.eventCount > 0 && s.eventCount < LINES);
    expect(during.length).toBeGreaterThan(0);
    const stopped = decodeStopped(await until('RecordingStopped', () => c.notifications.find((n) => templateOf(n) === 202)));
    expect(stopped.reason).toBe(1); // SOURCE_ENDED
    expect(stopped.eventCount).toBe(LINES + 1);
    const stats = decodeStats((await c.call((ids) => c.proxy.stats(ids))).data);
    expect(stats.get('oversize')).toBe(1);
    await archiver.close();

    expect(verifyArchive(dir).problems).toEqual([]);
    const a = Archive.open(dir, { readOnly: true });
    const r = a.openReader(recordingId, { verifyCrc: true });
    let n = 0;
    let last = '';
    let lastFlags = -1;
    let wrong = 0;
    while (!r.isDone()) {
      r.poll((b, o, l, _p, _u, _m, flags) => {
        if (n < LINES) {
          if (l !== LINE - 1 || b.toString('latin1', o, o + 12) !== `line ${n} `.padEnd(12, 'x').slice(0, 12) || flags !== 0) wrong++;
        } else {
          last = b.toString('latin1', o, o + l);
          lastFlags = flags;
        }
        n++;
      }, 10_000);
    }
    a.close();
    expect(n).toBe(LINES + 1);
    expect(wrong).toBe(0);
    expect(last).toBe('last, no newline');
    expect(lastFlags).toBe(FrameFlags.UNTERMINATED);
  });
});
