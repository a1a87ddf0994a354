import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeArchiver, T, makeRecording } from '../client/fake-archiver.js';
import { vcr } from './run.js';

let fake: FakeArchiver;
let dir: string;

beforeAll(async () => {
  fake = await FakeArchiver.start();
  dir = mkdtempSync(join(tmpdir(), 'vcr-cli-'));
  const a = makeRecording(0, 'radar.tracks', [Buffer.from('t1'), Buffer.from('t2'), Buffer.from([0, 1, 2])], [1_000n, 3_000n, 5_000n]);
  a.aliases = ['radar'];
  fake.recordings.set(0, a);
  fake.recordings.set(1, makeRecording(1, 'ais', [Buffer.from('s1'), Buffer.from('s2')], [2_000n, 3_000n]));
});

afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('vcr commands against a fake archiver', () => {
  it('record start prints the recordingId alone, or JSON with --json', async () => {
    const plain = await vcr(['record', 'start', '--channel', 'x', '--source', 'udp://127.0.0.1:9999', '--archiver', fake.endpoint]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toBe('42\n');
    const json = await vcr(['record', 'start', '--channel', 'x', '--source', 'udp://127.0.0.1:9999', '--alias', 'y', '--archiver', fake.endpoint, '--json']);
    expect(lines(json.stdout)).toEqual([expect.objectContaining({ recordingId: 42, channel: 'x' })]);
    expect(fake.of(T.startRecording).length).toBe(2);
  });

  it('query list --json prints one object per recording with the contract keys', async () => {
    const r = await vcr(['query', 'list', '--json', '--archiver', fake.endpoint]);
    expect(r.status).toBe(0);
    const list = lines(r.stdout);
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({
      recordingId: 0,
      channel: 'radar.tracks',
      aliases: ['radar'],
      source: 'udp://127.0.0.1:9',
      state: 'stopped',
      startPosition: 0,
      stopPosition: a0StopPosition(),
      startUtcNs: '1000',
      stopUtcNs: '5000',
      events: 3,
    });
  });

  it('events --json merges channels in timestamp order with base64 payloads and ns as strings', async () => {
    const r = await vcr(['events', '--channel', 'radar', '--channel', 'ais', '--from', '1500', '--to', '4000', '--json', '--archiver', fake.endpoint]);
    expect(r.status).toBe(0);
    const got = lines(r.stdout);
    expect(got.map((e) => [e.channel, Buffer.from(e.payload as string, 'base64').toString(), e.utcNs])).toEqual([
      ['ais', 's1', '2000'],
      ['radar.tracks', 't2', '3000'],
      ['ais', 's2', '3000'],
    ]);
    expect(Object.keys(got[0]!)).toEqual(['channel', 'recordingId', 'position', 'utcNs', 'monoNs', 'payload']);
  });

  it('replay --output writes each payload followed by the separator', async () => {
    const out = join(dir, 'out.bin');
    const r = await vcr(['replay', '--recording', '0', '--output', out, '--separator', '%0D%0A', '--archiver', fake.endpoint]);
    expect(r.status).toBe(0);
    expect(readFileSync(out)).toEqual(Buffer.concat([Buffer.from('t1\r\nt2\r\n'), Buffer.from([0, 1, 2]), Buffer.from('\r\n')]));
    const stdout = await vcr(['replay', '--channel', 'ais', '--from', '0', '--to', '9999', '--output', '-', '--archiver', fake.endpoint]);
    expect(stdout.stdout).toBe('s1\ns2\n');
  });

  it('exits 1 with the archiver error code when the archiver refuses', async () => {
    const r = await vcr(['query', 'describe', '17', '--archiver', fake.endpoint]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[UNKNOWN_RECORDING\]/);
  });
});

function a0StopPosition(): number {
  return fake.recordings.get(0)!.stopPosition;
}
