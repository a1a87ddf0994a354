/**
 * The `.arc` reference that stands for an archived segment in the archive directory: written
 * durably (temp, fsync, rename, fsync directory) as step 3 of the crash-safe order, read by
 * the segment files (state, mapping) and by the start-up settlement.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { storageError } from '../io-errors.js';
import { syncDirectory } from '../segment-files.js';
import { decodeRef, encodeRef, refFileName, type ArchivedRef } from './tier-layout.js';

export function refPath(dir: string, recordingId: number, base: number): string {
  return join(dir, refFileName(recordingId, base));
}

export function readRef(path: string): ArchivedRef {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (err) {
    throw storageError(err, `cannot read ${path}`);
  }
  return decodeRef(b, path);
}

export function writeRef(dir: string, r: ArchivedRef): void {
  const path = refPath(dir, r.recordingId, r.base);
  const tmp = `${path}.tmp`;
  const bytes = encodeRef(r);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
    syncDirectory(dir);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    throw storageError(err, `cannot write ${path}`);
  }
}
