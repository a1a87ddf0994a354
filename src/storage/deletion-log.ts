/**
 * `<id>-<base>.dlog`: the per-segment deletion log. Before the deleter rewrites DATA frames
 * into a DELETED frame it appends one DeletionLogEntry (position, frameLength, crc32c, utcNs)
 * per removed frame here and fsyncs, so the segment digest, defined over the frames as they
 * were written, stays checkable after the deletion (docs/FORMAT.md, "Segment digest"). The
 * log stays beside a tombstone and goes with the segment when it is dropped.
 *
 * A crash while appending can leave a partial or zero-filled last entry, or a crash while
 * creating the log a short or zero header (nothing depended on it yet): such a log or entry
 * counts as empty, and so are repeats of an entry (a deletion re-applied after a
 * crash appends only what is not there yet, but an older engine's repeat is harmless).
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import {
  DeletionLogEntryDecoder,
  DeletionLogEntryEncoder,
  DeletionLogHeaderDecoder,
  DeletionLogHeaderEncoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
} from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import { DELETION_LOG_ENTRY_LENGTH, DELETION_LOG_HEADER_LENGTH, FRAME_ALIGNMENT, FRAME_HEADER_LENGTH, SCHEMA_ID, TemplateId, deletionLogFileName } from './layout.js';
import { syncDirectory, type SegmentFiles } from './segment-files.js';

/** One DATA frame a deletion removed, as it was stored. */
export interface DeletionLogRecord {
  position: number;
  frameLength: number;
  crc32c: number;
  utcNs: bigint;
}

const entryEncoder = new DeletionLogEntryEncoder();
const entryDecoder = new DeletionLogEntryDecoder();

function corrupt(files: SegmentFiles, base: number, why: string): VcrError {
  return new VcrError(ErrorCode.CORRUPT_SEGMENT, `recording ${files.recordingId}, ${deletionLogFileName(files.recordingId, base)}: ${why}`);
}

export function encodeDeletionLogHeader(recordingId: number, base: number): Buffer {
  const b = Buffer.alloc(DELETION_LOG_HEADER_LENGTH);
  new DeletionLogHeaderEncoder()
    .wrapAndApplyHeader(b, 0, new MessageHeaderEncoder())
    .recordingId(BigInt(recordingId))
    .basePosition(BigInt(base))
    .entryLength(DELETION_LOG_ENTRY_LENGTH)
    .entriesOffset(DELETION_LOG_HEADER_LENGTH);
  return b;
}

export function encodeDeletionLogEntries(records: readonly DeletionLogRecord[]): Buffer {
  const b = Buffer.alloc(records.length * DELETION_LOG_ENTRY_LENGTH);
  records.forEach((r, i) => {
    entryEncoder.wrap(b, i * DELETION_LOG_ENTRY_LENGTH).position(BigInt(r.position)).frameLength(r.frameLength).crc32c(r.crc32c).utcNs(r.utcNs);
  });
  return b;
}

/**
 * Decodes a whole deletion log file of segment `base`: the header must name this recording and
 * segment; entries come back in position order without repeats. Throws CORRUPT_SEGMENT.
 */
export function decodeDeletionLog(files: SegmentFiles, base: number, b: Buffer): DeletionLogRecord[] {
  // a log whose creation a crash cut short holds nothing yet (its entries are fsync'ed before any frame changes)
  if (b.length < DELETION_LOG_HEADER_LENGTH || b.subarray(0, DELETION_LOG_HEADER_LENGTH).every((x) => x === 0)) return [];
  const mh = new MessageHeaderDecoder().wrap(b, 0);
  if (mh.templateId() !== TemplateId.DELETION_LOG_HEADER || mh.schemaId() !== SCHEMA_ID) throw corrupt(files, base, 'bad header record');
  const h = new DeletionLogHeaderDecoder().wrap(b, mh.encodedLength(), DeletionLogHeaderDecoder.BLOCK_LENGTH, mh.version());
  if (Number(h.recordingId()) !== files.recordingId || Number(h.basePosition()) !== base) throw corrupt(files, base, 'belongs to another segment');
  if (h.entryLength() !== DELETION_LOG_ENTRY_LENGTH || h.entriesOffset() !== DELETION_LOG_HEADER_LENGTH) throw corrupt(files, base, 'bad entry layout');
  const byPosition = new Map<number, DeletionLogRecord>();
  for (let at = DELETION_LOG_HEADER_LENGTH; at + DELETION_LOG_ENTRY_LENGTH <= b.length; at += DELETION_LOG_ENTRY_LENGTH) {
    const e = entryDecoder.wrap(b, at);
    const r: DeletionLogRecord = { position: Number(e.position()), frameLength: e.frameLength(), crc32c: e.crc32c(), utcNs: e.utcNs() };
    if (r.frameLength < FRAME_HEADER_LENGTH) continue; // torn (zero-filled) tail of an append
    const offset = r.position - base;
    if (offset < 0 || offset % FRAME_ALIGNMENT !== 0 || offset + r.frameLength > files.segmentLength) {
      throw corrupt(files, base, `entry at byte ${at} names position ${r.position}, outside the segment`);
    }
    const seen = byPosition.get(r.position);
    if (seen && (seen.frameLength !== r.frameLength || seen.crc32c !== r.crc32c)) {
      throw corrupt(files, base, `two different entries for position ${r.position}`);
    }
    byPosition.set(r.position, r);
  }
  return [...byPosition.values()].sort((x, y) => x.position - y.position);
}

/** The log's raw bytes (to copy it to another node), undefined if the segment has none. */
export function readDeletionLogBytes(files: SegmentFiles, base: number): Buffer | undefined {
  try {
    return readFileSync(files.deletionLogPath(base));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageError(err, `cannot read ${files.deletionLogPath(base)}`);
  }
}

/** The segment's deletion log records in position order ([] when it has none). */
export function readDeletionLog(files: SegmentFiles, base: number): DeletionLogRecord[] {
  const b = readDeletionLogBytes(files, base);
  return b === undefined ? [] : decodeDeletionLog(files, base, b);
}

/**
 * Appends the records not yet in the log (creating it with its header) and fsyncs it, and
 * the directory when the file is new. Returns how many records were added.
 */
export function appendDeletionLog(files: SegmentFiles, base: number, records: readonly DeletionLogRecord[]): number {
  const have = new Set(readDeletionLog(files, base).map((r) => r.position));
  const fresh = records.filter((r) => !have.has(r.position));
  if (fresh.length === 0) return 0;
  const path = files.deletionLogPath(base);
  let fd = -1;
  try {
    const created = !existsSync(path);
    fd = openSync(path, created ? 'wx+' : 'r+');
    let size = fstatSync(fd).size;
    if (size < DELETION_LOG_HEADER_LENGTH) {
      const header = encodeDeletionLogHeader(files.recordingId, base);
      writeFully(fd, header, 0, header.length, 0);
      size = header.length;
    }
    // a torn partial entry at the end is overwritten: the new entries start at the last whole one
    const at = DELETION_LOG_HEADER_LENGTH + Math.floor((size - DELETION_LOG_HEADER_LENGTH) / DELETION_LOG_ENTRY_LENGTH) * DELETION_LOG_ENTRY_LENGTH;
    const body = encodeDeletionLogEntries(fresh);
    writeFully(fd, body, 0, body.length, at);
    fsyncSync(fd);
    if (created) syncDirectory(files.dir);
  } catch (err) {
    throw storageError(err, `cannot write ${path}`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return fresh.length;
}
