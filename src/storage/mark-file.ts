/**
 * archive.mark: who owns an archive directory. A 4096-byte ArchiveMark record (mapped) with
 * the owner's pid and a heartbeat. A second open fails with ARCHIVE_LOCKED while the owner is
 * alive and its heartbeat fresh; a mark left by a killed process (pid gone, or heartbeat
 * older than the stale timeout) is taken over, so restart after SIGKILL needs no manual step.
 */
import { closeSync, openSync, readFileSync, fsyncSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArchiveMarkDecoder, ArchiveMarkEncoder, MessageHeaderDecoder, MessageHeaderEncoder } from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import { FORMAT_VERSION, MARK_FILE, MARK_LENGTH, MESSAGE_HEADER_LENGTH, TemplateId } from './layout.js';
import { mapFile } from './segment-files.js';
import type { StorageClock } from './types.js';

const openInThisProcess = new Set<string>();

export interface MarkInfo {
  pid: number;
  startEpochMs: number;
  heartbeatEpochMs: number;
}

export function readMark(dir: string): MarkInfo | undefined {
  try {
    const b = readFileSync(join(dir, MARK_FILE));
    if (b.length < MESSAGE_HEADER_LENGTH + ArchiveMarkDecoder.BLOCK_LENGTH) return undefined;
    const mh = new MessageHeaderDecoder().wrap(b, 0);
    if (mh.templateId() !== TemplateId.ARCHIVE_MARK) return undefined;
    const m = new ArchiveMarkDecoder().wrap(b, MESSAGE_HEADER_LENGTH, ArchiveMarkDecoder.BLOCK_LENGTH, mh.version());
    return { pid: m.pid(), startEpochMs: m.startEpochMs(), heartbeatEpochMs: m.heartbeatEpochMs() };
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class MarkFile {
  private released = false;
  /** Wrapped once over the mapped file: heartbeat and release write in place. */
  private readonly encoder = new ArchiveMarkEncoder();

  private constructor(
    private readonly key: string,
    map: Buffer,
    private readonly clock: StorageClock,
  ) {
    this.encoder.wrap(map, MESSAGE_HEADER_LENGTH);
  }

  static acquire(dir: string, clock: StorageClock, staleAfterMs: number): MarkFile {
    const key = resolve(dir);
    if (openInThisProcess.has(key)) throw new VcrError(ErrorCode.ARCHIVE_LOCKED, `archive ${dir} is already open in this process`);
    const prev = readMark(dir);
    const now = clock.epochMs();
    if (prev && prev.pid !== process.pid && processAlive(prev.pid) && now - prev.heartbeatEpochMs < staleAfterMs) {
      throw new VcrError(ErrorCode.ARCHIVE_LOCKED, `archive ${dir} is in use by process ${prev.pid}`);
    }
    const path = join(dir, MARK_FILE);
    const init = Buffer.alloc(MARK_LENGTH);
    new ArchiveMarkEncoder()
      .wrapAndApplyHeader(init, 0, new MessageHeaderEncoder())
      .formatVersion(FORMAT_VERSION)
      .pid(process.pid)
      .startEpochMs(now)
      .heartbeatEpochMs(now);
    let fd = -1;
    try {
      fd = openSync(path, 'w+');
      writeFully(fd, init, 0, MARK_LENGTH, 0);
      fsyncSync(fd);
      const map = mapFile(fd, MARK_LENGTH, true);
      openInThisProcess.add(key);
      return new MarkFile(key, map, clock);
    } catch (err) {
      throw storageError(err, `cannot write ${path}`);
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  heartbeat(): void {
    if (!this.released) this.encoder.heartbeatEpochMs(this.clock.epochMs());
  }

  /** Releases the directory; the mark stays with pid 0 so the next open needs no checks. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.encoder.pid(0);
    openInThisProcess.delete(this.key);
  }
}
