/**
 * The archiver against the project's client library (src/client), which was written from
 * docs/PROTOCOL.md independently: record two files, then read both channels merged by time
 * with the client's reliable-read iterator.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveClient } from '../../src/client/index.js';
import { launchArchiver, removeDir, until } from './support.js';

describe('archiver with the client library', () => {
  it('records files and serves them to the client events iterator', async () => {
    const { archiver, dir } = await launchArchiver();
    const client = await ArchiveClient.connect({ archiver: `127.0.0.1:${archiver.controlPort}` });
    try {
      writeFileSync(join(dir, 'a.txt'), 'a1\na2\na3\n');
      writeFileSync(join(dir, 'b.txt'), 'b1\nb2\n');
      const a = await client.startRecording({ channel: 'interop.a', source: `file://${join(dir, 'a.txt')}`, aliases: ['ia'] });
      const b = await client.startRecording({ channel: 'interop.b', source: `file://${join(dir, 'b.txt')}` });
      await until('both recordings ended', () => archiver.conductor.recordings.size === 0);
      const got: { channel: string; payload: string; recordingId: number }[] = [];
      for await (const e of client.events({ channels: ['ia', 'interop.b'] })) {
        got.push({ channel: e.channel, payload: e.payload.toString(), recordingId: e.recordingId });
      }
      expect(got.filter((e) => e.recordingId === a).map((e) => e.payload)).toEqual(['a1', 'a2', 'a3']);
      expect(got.filter((e) => e.recordingId === b).map((e) => e.payload)).toEqual(['b1', 'b2']);
      expect(got).toHaveLength(5);
    } finally {
      await client.close();
      await archiver.close();
      removeDir(dir);
    }
  });
});
