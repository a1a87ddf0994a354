/**
 * Archives prepared for the end-to-end benchmarks, written in-process through src/storage
 * (seconds, where recording the same events through UDP would take minutes and lose some):
 * `count` events of `size` bytes, dealt round robin over the given channels (one recording
 * each) with strictly increasing UTC times `stepNs` apart, so a read over all channels is a
 * real k-way merge. Each payload starts with its sequence number (uint64 LE).
 */
import { Archive } from '../../src/storage/archive.js';

export interface FixtureSpec {
  channels: string[];
  count: number;
  size: number;
  /** UTC of the first event, ns */
  utc0Ns: bigint;
  stepNs: bigint;
  segmentLength?: number;
}

export interface Fixture {
  recordingIds: number[];
  fromUtcNs: bigint;
  /** exclusive end: one step after the last event */
  toUtcNs: bigint;
  /** payload bytes written */
  bytes: number;
  seconds: number;
}

/** Appends the fixture's recordings to the archive in `dir` (created when missing). */
export function buildFixture(dir: string, spec: FixtureSpec): Fixture {
  const t0 = process.hrtime.bigint();
  const archive = Archive.open(dir, spec.segmentLength ? { segmentLength: spec.segmentLength } : {});
  try {
    const mono0 = process.hrtime.bigint();
    const writers = spec.channels.map((channel) =>
      archive.createRecording({ channel, source: 'udp://127.0.0.1:9', startUtcNs: spec.utc0Ns, startMonoNs: mono0 }),
    );
    const payload = Buffer.alloc(spec.size, 0x78);
    const n = writers.length;
    for (let i = 0; i < spec.count; i++) {
      payload.writeBigUInt64LE(BigInt(i), 0);
      const dt = BigInt(i) * spec.stepNs;
      const w = writers[i % n]!;
      w.append(payload, 0, spec.size, spec.utc0Ns + dt, mono0 + dt);
      if (i % 4096 === 4095) for (const x of writers) x.commit();
    }
    for (const w of writers) w.stop();
    return {
      recordingIds: writers.map((w) => w.recordingId),
      fromUtcNs: spec.utc0Ns,
      toUtcNs: spec.utc0Ns + BigInt(spec.count) * spec.stepNs,
      bytes: spec.count * spec.size,
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    };
  } finally {
    archive.close();
  }
}

/** A UTC start an hour ago, so every fixture lies in the past (and "-1h" style bounds still work). */
export function anHourAgoNs(): bigint {
  return (BigInt(Date.now()) - 3_600_000n) * 1_000_000n;
}
