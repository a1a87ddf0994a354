/**
 * Recordings made on other nodes: their descriptors installed here (with away markers for the
 * segments this node does not hold) and replica writers that copy their frames in. Archive
 * exposes these as `installDescriptor` and `openReplica`.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ResolvedOptions } from './archive-options.js';
import type { Catalog } from './catalog.js';
import { checkDescriptorFits } from './descriptor-codec.js';
import { isValidSegmentLength } from './layout.js';
import { MetadataFile, writeMetadataFile } from './metadata-file.js';
import type { RecordingTable } from './recording-table.js';
import { ReplicaWriter } from './replica-writer.js';
import { SegmentFiles } from './segment-files.js';
import type { RecordingDescriptor } from './types.js';

export interface ForeignContext {
  dir: string;
  catalog: Catalog;
  table: RecordingTable;
  opts: ResolvedOptions;
}

/**
 * Upserts the descriptor of a recording made elsewhere (catalog and metadata file, lifecycle
 * as given). Segment positions it covers with no local file get an away marker unless
 * `markAway` is false, so they read as held elsewhere, not as damage.
 */
export function installDescriptor(c: ForeignContext, d: RecordingDescriptor, markAway: boolean): void {
  const id = d.recordingId;
  if (!Number.isSafeInteger(id) || id < 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording id ${id} is not valid`);
  if (!isValidSegmentLength(d.segmentLength)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `segment length ${d.segmentLength} is not valid`);
  checkDescriptorFits(d);
  const existing = c.table.get(id);
  if (existing?.writer) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${id} is being written here`);
  if (existing?.descriptor && existing.descriptor.segmentLength !== d.segmentLength) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `recording ${id} has segments of ${existing.descriptor.segmentLength} bytes here, not ${d.segmentLength}`);
  }
  const copy: RecordingDescriptor = { ...d, aliases: [...d.aliases] };
  writeMetadataFile(c.dir, copy);
  c.catalog.write(copy);
  const files = new SegmentFiles(c.dir, id, copy.segmentLength);
  if (markAway) {
    for (let base = files.baseOf(copy.startPosition); base < copy.stopPosition; base += copy.segmentLength) {
      if (files.status(base) === 'missing') files.markAway(base);
    }
  }
  const entry = existing?.descriptor ? existing : c.table.add(copy, c.table.loadIndex(copy, files));
  entry.descriptor = copy;
  delete entry.error;
  entry.cache!.invalidate();
  c.table.refreshDamage(entry);
}

/**
 * A writer for the frames of a recording made elsewhere (see ReplicaWriter). The recording is
 * created here from `d` if it is not known yet; otherwise the replica continues where the
 * local frames end.
 */
export function openReplica(c: ForeignContext, d: RecordingDescriptor): ReplicaWriter {
  const id = d.recordingId;
  let entry = c.table.get(id);
  if (entry?.writer) throw new VcrError(ErrorCode.RECORDING_ACTIVE, `recording ${id} is being written here`);
  if (!entry?.descriptor) {
    installDescriptor(c, { ...d, lifecycle: 'recording', cleanStop: false, stopPosition: d.startPosition, eventCount: 0, stopUtcNs: d.startUtcNs, stopMonoNs: d.startMonoNs }, false);
    entry = c.table.get(id)!;
  }
  const local = entry.descriptor!;
  const files = entry.files!;
  let resume = local.stopPosition;
  const base = files.baseOf(resume);
  // frames the metadata counts in a segment that is not here (an interrupted create) are not here
  if (resume !== base && files.status(base) !== 'present') resume = base;
  const live: RecordingDescriptor = { ...local, aliases: [...local.aliases], lifecycle: 'recording', cleanStop: false, stopPosition: resume };
  entry.index!.truncateFrom(resume);
  entry.index!.writeAll(c.dir);
  writeMetadataFile(c.dir, live);
  c.catalog.write(live);
  entry.descriptor = live;
  const e = entry;
  const writer = new ReplicaWriter(live, files, MetadataFile.openMapped(c.dir, id), e.index!, c.catalog, c.opts, (w) => {
    if (e.writer === w) e.writer = undefined;
    e.descriptor = w.snapshot();
  });
  e.writer = writer;
  return writer;
}
