/**
 * Offline verification of an archive directory (no lock taken, nothing written): every
 * descriptor and metadata checksum, every frame's CRC and structure, the zero bytes that must
 * surround frames (alignment gaps, padding and deleted bodies, the unwritten tail), segment
 * coverage of each recording's positions (a missing or truncated segment file is reported with
 * SEGMENT_MISSING / SEGMENT_TRUNCATED and the check goes on with the next segment; a segment
 * held elsewhere is not a problem), every deletion log against its segment (DIGEST_MISMATCH
 * when they disagree), and every time index entry. Each problem names the recording, file and
 * offset.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, type ErrorCodeValue } from '../util/errors.js';
import { Catalog, slotOffset } from './catalog.js';
import { FrameStatus, checkFrame, frameStatusText } from './frame.js';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { CATALOG_FILE, FRAME_HEADER_LENGTH, FrameType, SEGMENT_FILE_PATTERN, TIME_INDEX_ENTRY_LENGTH, TIME_INDEX_HEADER_LENGTH, alignFrame, deletionLogFileName, isValidSegmentLength, metadataFileName, segmentFileName, timeIndexFileName } from './layout.js';
import { readDeletionLog } from './deletion-log.js';
import { digestSegment } from './digest.js';
import { readMetadata } from './metadata-file.js';
import { SegmentFiles } from './segment-files.js';
import { TimeIndex } from './time-index.js';
import type { RecordingDescriptor } from './types.js';

export interface VerifyProblem {
  recordingId?: number;
  file: string;
  offset?: number;
  position?: number;
  code: ErrorCodeValue;
  message: string;
}

export interface VerifyReport {
  recordings: number;
  frames: number;
  bytes: number;
  problems: VerifyProblem[];
}

export interface VerifyProgress {
  start(totalSegments: number): void;
  tick(): void;
  stop(): void;
}

const ZEROS = Buffer.alloc(64 * 1024);
const header = new EventFrameHeaderDecoder();

function firstNonZero(buf: Buffer, from: number, to: number): number {
  for (let at = from; at < to; at += ZEROS.length) {
    const end = Math.min(to, at + ZEROS.length);
    if (buf.compare(ZEROS, 0, end - at, at, end) !== 0) {
      for (let i = at; i < end; i++) if (buf[i] !== 0) return i;
    }
  }
  return -1;
}

export function verifyArchive(dir: string, opts: { indexStride?: number; progress?: VerifyProgress } = {}): VerifyReport {
  const report: VerifyReport = { recordings: 0, frames: 0, bytes: 0, problems: [] };
  let catalog: Catalog;
  try {
    catalog = Catalog.open(dir, { readOnly: true });
  } catch (err) {
    report.problems.push({ file: CATALOG_FILE, offset: 0, code: ErrorCode.CORRUPT_CATALOG, message: (err as Error).message });
    return report;
  }
  try {
    const plans: { d: RecordingDescriptor; files: SegmentFiles }[] = [];
    for (let id = 0; id < catalog.nextRecordingId; id++) {
      const slot = catalog.read(id);
      if (!slot.ok && slot.empty === true && !existsSync(join(dir, metadataFileName(id)))) continue; // an id this archive never had
      report.recordings++;
      let meta: RecordingDescriptor | undefined;
      try {
        meta = readMetadata(dir, id);
      } catch (err) {
        report.problems.push({ recordingId: id, file: metadataFileName(id), code: ErrorCode.CORRUPT_METADATA, message: (err as Error).message });
      }
      if (!slot.ok) report.problems.push({ recordingId: id, file: CATALOG_FILE, offset: slotOffset(id), code: ErrorCode.CORRUPT_CATALOG, message: slot.error.message });
      const d = slot.ok ? slot.descriptor : meta;
      if (!d || d.state === 'deleted') continue;
      if (meta && d.lifecycle === 'recording' && meta.stopPosition > d.stopPosition) Object.assign(d, { stopPosition: meta.stopPosition, lifecycle: meta.lifecycle });
      if (!isValidSegmentLength(d.segmentLength)) {
        report.problems.push({ recordingId: id, file: CATALOG_FILE, offset: slotOffset(id), code: ErrorCode.CORRUPT_CATALOG, message: `bad segment length ${d.segmentLength}` });
        continue;
      }
      plans.push({ d, files: new SegmentFiles(dir, id, d.segmentLength) });
    }
    const total = plans.reduce((n, p) => n + p.files.listBases().length, 0);
    opts.progress?.start(total);
    for (const p of plans) verifyRecording(dir, p.d, p.files, opts.indexStride ?? 4096, report, opts.progress);
    opts.progress?.stop();
  } finally {
    catalog.close();
  }
  return report;
}

function verifyRecording(dir: string, d: RecordingDescriptor, files: SegmentFiles, stride: number, report: VerifyReport, progress?: VerifyProgress): void {
  const id = d.recordingId;
  const segLen = d.segmentLength;
  const live = d.lifecycle === 'recording';
  const problem = (file: string, offset: number | undefined, position: number | undefined, code: ErrorCodeValue, message: string): void => {
    report.problems.push({ recordingId: id, file, ...(offset !== undefined ? { offset } : {}), ...(position !== undefined ? { position } : {}), code, message });
  };
  let index: TimeIndex | undefined;
  try {
    index = TimeIndex.load(dir, id, stride, live ? Number.MAX_SAFE_INTEGER : Math.max(1, d.stopPosition));
  } catch (err) {
    problem(timeIndexFileName(id), undefined, undefined, ErrorCode.CORRUPT_INDEX, (err as Error).message);
  }
  let nextEntry = 0;
  /** Entries of positions whose segment is not here to check (held elsewhere, damaged) are passed over. */
  const skipEntriesBelow = (limit: number): void => {
    while (index && nextEntry < index.length && index.positionAt(nextEntry) < limit) nextEntry++;
  };
  const checkEntriesUpTo = (pos: number, frameUtc: bigint | undefined): void => {
    while (index && nextEntry < index.length && index.positionAt(nextEntry) <= pos) {
      const ep = index.positionAt(nextEntry);
      if (ep < pos || frameUtc === undefined || index.utcAt(nextEntry) !== frameUtc) {
        problem(timeIndexFileName(id), TIME_INDEX_HEADER_LENGTH + nextEntry * TIME_INDEX_ENTRY_LENGTH, ep, ErrorCode.CORRUPT_INDEX, `entry ${nextEntry} (position ${ep}) does not match a frame`);
      }
      nextEntry++;
    }
  };
  const bases = new Set(files.listBases());
  let pos = d.startPosition;
  const end = d.stopPosition;
  let stopped = false;
  for (let base = files.baseOf(d.startPosition); !stopped && (base < end || (live && bases.has(base))); base += segLen) {
    bases.delete(base);
    const name = segmentFileName(id, base);
    const { state, size } = files.stat(base);
    progress?.tick();
    if (state === 'tombstone' || state === 'present') checkDeletionLog(files, d, base, problem);
    if (state !== 'present') {
      if (state === 'missing' || state === 'truncated') {
        const e = files.unavailable(base, state, size);
        problem(name, undefined, base, e.code, e.message);
      }
      skipEntriesBelow(base + segLen);
      pos = base + segLen;
      continue;
    }
    if (size !== segLen) problem(name, undefined, base, ErrorCode.CORRUPT_SEGMENT, `segment file has ${size} bytes, expected ${segLen}`);
    let seg: Buffer;
    try {
      seg = files.map(base, false);
    } catch (err) {
      // an archived segment whose copy cannot be read (missing, damaged block)
      const e = err as { code?: ErrorCodeValue; message: string };
      problem(name, undefined, base, e.code ?? ErrorCode.IO_ERROR, e.message);
      pos = base + segLen;
      continue;
    }
    report.bytes += segLen;
    let off = pos - base;
    while (off < segLen) {
      if (segLen - off < FRAME_HEADER_LENGTH) {
        const nz = firstNonZero(seg, off, segLen);
        if (nz >= 0) problem(name, nz, base + nz, ErrorCode.CORRUPT_SEGMENT, 'non-zero byte in the segment tail gap');
        off = segLen;
        break;
      }
      const atEnd = base + off >= end;
      if (atEnd && !live) break;
      const st = checkFrame(seg, off, segLen, true);
      if (st === FrameStatus.NOT_WRITTEN) {
        if (!atEnd) problem(name, off, base + off, ErrorCode.CORRUPT_SEGMENT, `frame missing before the stop position ${end}`);
        stopped = true;
        break;
      }
      if (st !== FrameStatus.OK) {
        if (atEnd && live) {
          stopped = true;
          break;
        }
        problem(name, off, base + off, ErrorCode.CORRUPT_SEGMENT, frameStatusText(st));
        return;
      }
      const h = header.wrap(seg, off);
      const length = h.frameLength();
      const type = h.frameType();
      const utc = h.utcNs();
      const next = off + alignFrame(length);
      const zeroFrom = type === FrameType.DATA ? off + length : off + FRAME_HEADER_LENGTH;
      const nz = firstNonZero(seg, zeroFrom, next);
      if (nz >= 0) problem(name, nz, base + nz, ErrorCode.CORRUPT_SEGMENT, `non-zero byte in the ${type === FrameType.DATA ? 'alignment gap' : 'body'} of the frame at offset ${off}`);
      checkEntriesUpTo(base + off, type === FrameType.PADDING ? undefined : utc);
      report.frames++;
      off = next;
    }
    pos = base + off;
    if (stopped || (base + segLen > end && !live)) {
      const from = Math.max(0, pos - base);
      const nz = firstNonZero(seg, from, segLen);
      if (nz >= 0) problem(name, nz, base + nz, ErrorCode.CORRUPT_SEGMENT, `non-zero byte after the end of the recording (position ${pos})`);
      stopped = true;
    }
  }
  if (!live && pos < end && !stopped) problem(segmentFileName(id, files.baseOf(pos)), undefined, pos, ErrorCode.CORRUPT_SEGMENT, `recording ends at ${pos}, catalog says ${end}`);
  checkEntriesUpTo(Number.MAX_SAFE_INTEGER, undefined);
  for (const b of bases) if (b > pos && !live) problem(segmentFileName(id, b), undefined, b, ErrorCode.CORRUPT_SEGMENT, 'segment file past the end of the recording');
}

/** A segment's deletion log, if it has one, must agree with its frames (their digest must be defined). */
function checkDeletionLog(
  files: SegmentFiles,
  d: RecordingDescriptor,
  base: number,
  problem: (file: string, offset: number | undefined, position: number | undefined, code: ErrorCodeValue, message: string) => void,
): void {
  if (!existsSync(files.deletionLogPath(base))) return;
  const name = deletionLogFileName(d.recordingId, base);
  try {
    const log = readDeletionLog(files, base);
    const seg = files.status(base) === 'present' ? files.map(base, false) : null;
    const limit = d.lifecycle === 'recording' ? Number.MAX_SAFE_INTEGER : d.stopPosition;
    digestSegment({ recordingId: d.recordingId, base, segmentLength: d.segmentLength }, seg, Math.max(d.startPosition, base) - base, limit, log);
  } catch (err) {
    const e = err as { code?: ErrorCodeValue; message: string };
    // frame damage is reported by the frame walk; here only what concerns the log
    if (e.code !== ErrorCode.CORRUPT_SEGMENT || e.message.includes(name)) problem(name, undefined, base, e.code ?? ErrorCode.IO_ERROR, e.message);
  }
}

/** Segment files in `dir` whose recording id is not in the catalog. */
export function strayFiles(dir: string, nextRecordingId: number): string[] {
  return readdirSync(dir).filter((f) => {
    const m = SEGMENT_FILE_PATTERN.exec(f);
    return m !== null && Number(m[1]) >= nextRecordingId;
  });
}
