/**
 * Loading one recording at open, and repairing it when it was not cleanly stopped.
 *
 * The catalog descriptor and the metadata file duplicate each other; whichever verifies is
 * used (the metadata is newer while recording), and a bad one is rewritten from the other.
 * A recording still marked RECORDING was interrupted: its frames are scanned forward from the
 * last committed position, every frame whose CRC verifies is kept, the first bad or unwritten
 * frame is the torn tail, which is zeroed to the end of its segment (later, preallocated
 * segments are removed), and metadata, catalog and time index are brought up to date.
 * With `repair` false (read-only opens) nothing is written: the view just ends at the tail.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { Catalog, CatalogSlot } from './catalog.js';
import { FrameType, isValidSegmentLength } from './layout.js';
import { readMetadata, writeMetadataFile } from './metadata-file.js';
import { scanForward } from './scan.js';
import { SegmentCache } from './segment-cache.js';
import { SegmentFiles } from './segment-files.js';
import { TimeIndex } from './time-index.js';
import type { RecordingDescriptor } from './types.js';

export interface LoadedRecording {
  recordingId: number;
  /** The slot was never written and there is no metadata file: no recording has this id here. */
  absent?: boolean;
  descriptor?: RecordingDescriptor;
  error?: VcrError;
  files?: SegmentFiles;
  index?: TimeIndex;
  actions: string[];
}

export function loadRecording(dir: string, catalog: Catalog, slot: CatalogSlot, opts: { repair: boolean; stride: number }): LoadedRecording {
  const id = slot.recordingId;
  const actions: string[] = [];
  let meta: RecordingDescriptor | undefined;
  let metaError: VcrError | undefined;
  try {
    meta = readMetadata(dir, id);
  } catch (err) {
    metaError = err as VcrError;
  }
  let d: RecordingDescriptor;
  let catalogDirty = false;
  if (slot.ok) {
    d = slot.descriptor;
  } else if (meta) {
    d = { ...meta };
    actions.push(`catalog descriptor rebuilt from the metadata file${slot.empty === true ? ' (the catalog had no descriptor)' : ''}`);
    catalogDirty = true;
  } else {
    return { recordingId: id, error: slot.error, actions, ...(slot.empty === true ? { absent: true } : {}) };
  }
  if (d.state === 'deleted') return { recordingId: id, descriptor: d, actions };
  if (!isValidSegmentLength(d.segmentLength)) {
    return { recordingId: id, error: new VcrError(ErrorCode.CORRUPT_CATALOG, `recording ${id}: bad segment length ${d.segmentLength}`), actions };
  }
  let metaDirty = metaError !== undefined;
  if (metaError && d.state !== 'invalid') actions.push(`metadata file rewritten (${metaError.message})`);
  if (meta && d.lifecycle === 'recording' && meta.stopPosition >= d.stopPosition) {
    d.lifecycle = meta.lifecycle;
    d.failureCode = meta.failureCode;
    d.stopPosition = meta.stopPosition;
    d.stopUtcNs = meta.stopUtcNs;
    d.stopMonoNs = meta.stopMonoNs;
    d.eventCount = meta.eventCount;
    d.cleanStop = meta.cleanStop;
    if (d.lifecycle !== 'recording') catalogDirty = true;
  }
  const files = new SegmentFiles(dir, id, d.segmentLength);
  const cache = new SegmentCache(files, 2);
  let index: TimeIndex | undefined;
  let indexDirty = false;

  if (d.lifecycle === 'recording') {
    const from = d.stopPosition;
    const scan = scanForward(cache, from, { verifyCrc: true });
    try {
      index = TimeIndex.load(dir, id, opts.stride, Math.max(scan.end, 1));
      index.truncateFrom(from);
    } catch {
      index = undefined;
    }
    if (index) {
      scanForward(cache, from, {
        verifyCrc: false,
        limit: scan.end,
        onFrame: (type, pos, _buf, _off, _length, utcNs) => {
          if (type !== FrameType.PADDING) index!.onFrame(utcNs, pos);
        },
      });
    }
    d.stopPosition = scan.end;
    d.eventCount += scan.dataFrames;
    if (scan.lastUtcNs !== undefined) {
      d.stopUtcNs = scan.lastUtcNs;
      d.stopMonoNs = scan.lastMonoNs!;
    }
    if (opts.repair) {
      // a segment that cannot be read here (truncated, away, or missing while later ones exist)
      // ends the scan without proving a torn tail: nothing after it is zeroed or removed
      const blocked =
        scan.stoppedBy === 'truncated' ||
        scan.stoppedBy === 'away' ||
        (scan.stoppedBy === 'missing' && files.listBases().some((b) => b > files.baseOf(scan.end)));
      const cut = blocked ? `stopped at segment ${files.baseOf(scan.end)} (${scan.stoppedBy}); later files kept` : cutTail(files, scan.end);
      actions.push(`recovered unclean stop: kept ${scan.dataFrames} frame(s) after the last commit, end at position ${scan.end}${cut ? `, ${cut}` : ''}`);
      d.lifecycle = 'stopped';
      d.cleanStop = false;
      catalogDirty = true;
      metaDirty = true;
      indexDirty = true;
    }
  }
  if (!index) {
    try {
      index = TimeIndex.load(dir, id, opts.stride, Math.max(d.stopPosition, 1));
    } catch (err) {
      index = rebuildIndex(cache, d, opts.stride);
      indexDirty = true;
      actions.push(`time index rebuilt (${(err as Error).message})`);
    }
  }
  if (opts.repair) {
    if (catalogDirty) catalog.write(d);
    if (metaDirty) writeMetadataFile(dir, d);
    if (indexDirty) index.writeAll(dir);
  }
  return { recordingId: id, descriptor: d, files, index, actions };
}

export function rebuildIndex(cache: SegmentCache, d: RecordingDescriptor, stride: number): TimeIndex {
  const index = new TimeIndex(d.recordingId, stride);
  scanForward(cache, d.startPosition, {
    verifyCrc: false,
    limit: d.stopPosition,
    skipUnavailable: true,
    onFrame: (type, pos, _buf, _off, _length, utcNs) => {
      if (type !== FrameType.PADDING) index.onFrame(utcNs, pos);
    },
  });
  return index;
}

/** Zeroes everything from `end` to the end of its segment and removes later segments. */
function cutTail(files: SegmentFiles, end: number): string {
  const base = files.baseOf(end);
  const notes: string[] = [];
  if (files.status(base) === 'present') {
    const seg = files.map(base, true);
    const from = end - base;
    let dirty = -1;
    for (let i = from; i < seg.length; i += 8) {
      if (seg.readUInt32LE(i) !== 0 || seg.readUInt32LE(i + 4) !== 0) {
        dirty = i;
        break;
      }
    }
    if (dirty >= 0) {
      seg.fill(0, from);
      notes.push(`torn tail zeroed at offset ${from} of ${files.path(base)}`);
    }
  }
  for (const b of files.listBases()) {
    if (b > base) {
      files.remove(b);
      notes.push(`removed segment ${files.path(b)} past the end`);
    }
  }
  return notes.join(', ');
}
