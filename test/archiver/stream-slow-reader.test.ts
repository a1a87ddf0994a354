/**
 * A client that stops reading a streamed replay costs the archiver a bounded amount of memory
 * (docs/PROTOCOL.md "Streamed replay", Memory): the archiver writes only while the connection
 * is below its high-water mark, so what it holds for the stalled client (bytes staged plus the
 * socket's buffer, i.e. not yet taken by the kernel) stays within the high-water mark plus one
 * batch, and it reads no further in the recording. When the client reads again, every event
 * arrives, in order.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Archiver } from '../../src/archiver/archiver.js';
import { DEFAULT_STREAM_BATCH_BYTES } from '../../src/archiver/stream-proxy.js';
import { ArchiveClient } from '../../src/client/index.js';
import { DEFAULT_HIGH_WATER_MARK } from '../../src/transport/connection-options.js';
import { launchArchiver, removeDir, until } from './support.js';

describe('streamed replay to a client that stops reading', () => {
  let archiver: Archiver;
  let dir: string;
  let client: ArchiveClient;

  afterEach(async () => {
    await client?.close();
    await archiver?.close();
    if (dir) removeDir(dir);
  });

  it('holds at most the high-water mark plus one batch, reads no further, and delivers everything once the client reads again', async () => {
    ({ archiver, dir } = await launchArchiver());
    client = await ArchiveClient.connect({ archiver: `127.0.0.1:${archiver.controlPort}` });
    // 48 MiB of 1 KiB events: far more than the high-water mark and the kernel's socket buffers
    const count = 48 * 1024;
    const line = (i: number) => `${String(i).padStart(8, '0')}${'e'.repeat(1015)}`;
    const file = join(dir, 'big.txt');
    writeFileSync(file, Array.from({ length: count }, (_, i) => line(i)).join('\n'));
    const id = await client.startRecording({ channel: 'big', source: `file://${file}` });
    await until('recorded', async () => (await client.describeRecording(id)).state === 'stopped', 60_000);

    const stream = client.stream({ recordingId: id });
    const first = await stream.next();
    expect(first.value.payload.toString()).toBe(line(0));
    const session = archiver.conductor.streams.get(stream.replaySessionId!)!;
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, session.conn?.bufferedBytes ?? 0);
    }, 1);
    try {
      // the client stopped reading: wait until the archiver has stopped sending
      let last = -1;
      await until(
        'the archiver to stop sending',
        () => {
          const sent = session.eventsSent;
          const still = sent === last && !session.conn!.writable;
          last = sent;
          return still;
        },
        30_000,
        250,
      );
      const sentWhileStalled = session.eventsSent;
      // requests are still answered (the duty cycle is not held up) and nothing more is read
      for (let i = 0; i < 5; i++) await client.stats();
      expect(session.eventsSent).toBe(sentWhileStalled);
      expect(sentWhileStalled).toBeLessThan(count / 2);
      const bound = DEFAULT_HIGH_WATER_MARK + DEFAULT_STREAM_BATCH_BYTES;
      expect(session.conn!.bufferedBytes).toBeGreaterThan(DEFAULT_HIGH_WATER_MARK / 2);
      expect(session.conn!.bufferedBytes).toBeLessThanOrEqual(bound);
      expect(maxBuffered).toBeLessThanOrEqual(bound);
    } finally {
      clearInterval(sampler);
    }

    // reading again: the rest, in order, complete
    let n = 1;
    for (let r = await stream.next(); !r.done; r = await stream.next()) {
      if (r.value.payload.toString() !== line(n)) throw new Error(`event ${n} differs`);
      n++;
    }
    expect(n).toBe(count);
    expect(stream.endInfo).toMatchObject({ reason: 'SOURCE_ENDED', eventsSent: count });
  }, 120_000);
});
