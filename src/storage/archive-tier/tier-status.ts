/**
 * What each tier holds (`vcr archive status`): per tier the segments, their bytes, and the UTC
 * of the oldest and newest event. Hot segments are the `.rec` files of the archive directory
 * (bytes: their length on disk, as allocated); archived segments are the `.arc` references
 * (bytes: the archived files' sizes; times from the reference). Hot times are read from the
 * frames: the first event of each hot segment, and the last event of a recording's newest hot
 * segment (its stop time when that segment holds the recording's end).
 */
import type { Archive } from '../archive.js';
import { readRef } from './ref-file.js';

export interface TierUsage {
  tier: 'hot' | 'archived';
  segments: number;
  bytes: number;
  /** UTC ns of the oldest and newest event, undefined when the tier holds no event. */
  oldestUtcNs?: bigint;
  newestUtcNs?: bigint;
}

export function tierStatus(archive: Archive): TierUsage[] {
  const hot: TierUsage = { tier: 'hot', segments: 0, bytes: 0 };
  const cold: TierUsage = { tier: 'archived', segments: 0, bytes: 0 };
  const see = (t: TierUsage, utc: bigint | undefined): void => {
    if (utc === undefined) return;
    if (t.oldestUtcNs === undefined || utc < t.oldestUtcNs) t.oldestUtcNs = utc;
    if (t.newestUtcNs === undefined || utc > t.newestUtcNs) t.newestUtcNs = utc;
  };
  for (const d of archive.listRecordings()) {
    let files;
    try {
      files = archive.segmentFiles(d.recordingId);
    } catch {
      continue;
    }
    let lastHot: { base: number; end?: number } | undefined;
    for (const l of archive.listSegments(d.recordingId)) {
      if (l.state !== 'present') continue;
      if (files.isArchived(l.base)) {
        cold.segments++;
        try {
          const r = readRef(files.archivedRefPath(l.base));
          cold.bytes += r.fileBytes;
          if (r.frames > 0) {
            see(cold, r.firstUtcNs);
            see(cold, r.lastUtcNs);
          }
        } catch {
          // a damaged reference is reported by open's damage check
        }
        continue;
      }
      hot.segments++;
      hot.bytes += files.segmentLength;
      see(hot, firstUtc(archive, d.recordingId, l.base, files.segmentLength));
      lastHot = l;
    }
    if (lastHot) see(hot, lastHot.end !== undefined ? d.stopUtcNs : lastUtc(archive, d.recordingId, lastHot.base, files.segmentLength));
  }
  return [hot, cold];
}

function firstUtc(archive: Archive, id: number, base: number, segLen: number): bigint | undefined {
  let utc: bigint | undefined;
  try {
    const r = archive.openReader(id, { position: Math.max(base, archive.describe(id).startPosition), length: segLen });
    r.poll((_b, _o, _l, _p, u) => (utc = u), 1);
    r.close();
  } catch {
    // damaged: no time
  }
  return utc;
}

function lastUtc(archive: Archive, id: number, base: number, segLen: number): bigint | undefined {
  let utc: bigint | undefined;
  try {
    const r = archive.openReader(id, { position: Math.max(base, archive.describe(id).startPosition), length: segLen });
    while (r.poll((_b, _o, _l, _p, u) => (utc = u), 4096) > 0);
    r.close();
  } catch {
    // damaged: no time
  }
  return utc;
}
