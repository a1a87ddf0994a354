import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseClusterConfig, nodeOf } from '../../src/cluster/cluster-config.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { runVcr } from '../helpers/cli.js';
import { removeTempDirs, tempDir } from '../helpers/wait.js';

afterAll(() => removeTempDirs());

const good = {
  k: 2,
  etcd: ['127.0.0.1:2379'],
  nodes: [
    { id: 'a', control: '127.0.0.1:8010', replication: '127.0.0.1:8110' },
    { id: 'b', control: '127.0.0.1:8011', replication: '127.0.0.1:8111' },
    { id: 'c', control: '127.0.0.1:8012', replication: '127.0.0.1:8112' },
  ],
};

function refusal(doc: unknown): { code: number; message: string } {
  try {
    parseClusterConfig(doc);
  } catch (err) {
    if (err instanceof VcrError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

describe('the cluster file (SPEC §3)', () => {
  it('accepts the SPEC example with defaults for the optional keys', () => {
    const c = parseClusterConfig(good);
    expect(c).toMatchObject({ k: 2, name: 'vcr', graceMs: 5000, scrubBytesPerSec: 16 * 1024 * 1024, scrubIntervalMs: 3_600_000 });
    expect(nodeOf(c, 'b').replication).toBe('127.0.0.1:8111');
  });

  it('refuses bad files with INVALID_CLUSTER_CONFIG naming the key', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...good, k: 4 }, /'k'/],
      [{ ...good, k: 0 }, /'k'/],
      [{ ...good, etcd: [] }, /'etcd'/],
      [{ ...good, etcd: ['nowhere'] }, /'etcd\[0\]'/],
      [{ ...good, nodes: [...good.nodes, { ...good.nodes[0] }] }, /'nodes\[3\]\.id'/],
      [{ ...good, nodes: [good.nodes[0], { ...good.nodes[1], control: '127.0.0.1:8010' }] }, /'nodes\[1\]\.control'/],
      [{ ...good, nodes: [{ ...good.nodes[0], extra: 1 }] }, /'nodes\[0\]\.extra'/],
      [{ ...good, graceMs: -1 }, /'graceMs'/],
      [{ ...good, surprise: true }, /'surprise'/],
      [{ ...good, scrubBytesPerSec: -1 }, /'scrubBytesPerSec'/],
      [{ ...good, scrubIntervalMs: 10 }, /'scrubIntervalMs'/],
    ];
    for (const [doc, key] of cases) {
      const r = refusal(doc);
      expect(r.code).toBe(ErrorCode.INVALID_CLUSTER_CONFIG);
      expect(r.message).toMatch(key);
    }
  });

  it('refuses a node id that is not in the file with UNKNOWN_NODE, from the real executable too', () => {
    expect(() => nodeOf(parseClusterConfig(good), 'z')).toThrowError(expect.objectContaining({ code: ErrorCode.UNKNOWN_NODE }));
    const dir = tempDir();
    writeFileSync(join(dir, 'c.json'), JSON.stringify(good));
    const r = runVcr(['archiver', '--dir', join(dir, 'd'), '--cluster', join(dir, 'c.json'), '--node', 'z']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/UNKNOWN_NODE/);
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    const bad = runVcr(['archiver', '--dir', join(dir, 'd'), '--cluster', join(dir, 'bad.json'), '--node', 'a']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_CLUSTER_CONFIG/);
    expect(runVcr(['archiver', '--dir', join(dir, 'd'), '--cluster', join(dir, 'c.json')]).status).toBe(2);
  });
});
