/**
 * recording-ID.meta: one 4096-byte RecordingMetadata record, memory-mapped and rewritten in
 * place by the writer at each commit (live fields + checksum), so the last committed state of
 * a live recording is readable by other processes and survives a crash. A torn update fails
 * its checksum and recovery falls back to the catalog.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, VcrError } from '../util/errors.js';
import { LiveMetadataWriter, decodeDescriptor, encodeDescriptor, type LiveFields } from './descriptor-codec.js';
import { storageError, writeFully } from './io-errors.js';
import { METADATA_LENGTH, TemplateId, metadataFileName } from './layout.js';
import { mapFile, syncMapping } from './segment-files.js';
import type { RecordingDescriptor } from './types.js';

export function metadataPath(dir: string, recordingId: number): string {
  return join(dir, metadataFileName(recordingId));
}

/** Reads and validates a metadata file; throws CORRUPT_METADATA (or IO) naming the problem. */
export function readMetadata(dir: string, recordingId: number): RecordingDescriptor {
  const path = metadataPath(dir, recordingId);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new VcrError(ErrorCode.CORRUPT_METADATA, `${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  try {
    if (buf.length !== METADATA_LENGTH) throw new VcrError(ErrorCode.CORRUPT_METADATA, `length ${buf.length}, expected ${METADATA_LENGTH}`);
    const d = decodeDescriptor(buf, 0, TemplateId.RECORDING_METADATA, ErrorCode.CORRUPT_METADATA);
    if (d.recordingId !== recordingId) throw new VcrError(ErrorCode.CORRUPT_METADATA, `holds recording ${d.recordingId}`);
    return d;
  } catch (err) {
    throw new VcrError(ErrorCode.CORRUPT_METADATA, `${path}: ${(err as Error).message}`);
  }
}

/** Writes a complete metadata file atomically (temp + fsync + rename). */
export function writeMetadataFile(dir: string, d: RecordingDescriptor): void {
  const path = metadataPath(dir, d.recordingId);
  const buf = Buffer.alloc(METADATA_LENGTH);
  encodeDescriptor(d, buf, 0, TemplateId.RECORDING_METADATA);
  let fd = -1;
  try {
    fd = openSync(`${path}.tmp`, 'w');
    writeFully(fd, buf, 0, buf.length, 0);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    throw storageError(err, `cannot write ${path}`);
  }
}

/** The writer's live view of its metadata file. */
export class MetadataFile {
  private readonly writer: LiveMetadataWriter;

  private constructor(private readonly map: Buffer) {
    this.writer = new LiveMetadataWriter(map);
  }

  static openMapped(dir: string, recordingId: number): MetadataFile {
    const path = metadataPath(dir, recordingId);
    let fd = -1;
    try {
      fd = openSync(path, 'r+');
      return new MetadataFile(mapFile(fd, METADATA_LENGTH, true));
    } catch (err) {
      throw storageError(err, `cannot map ${path}`);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  update(d: LiveFields): void {
    this.writer.update(d);
  }

  sync(): void {
    syncMapping(this.map, 0, METADATA_LENGTH);
  }
}
