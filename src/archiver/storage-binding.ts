/**
 * Maps the storage engine (`src/storage` Archive) onto the ArchiveStore port the archiver
 * logic is written against: state names, "unknown" as undefined instead of a throw, event
 * counting for progress, and disk usage for cluster status.
 */
import { Archive, type ArchiveOptions } from '../storage/archive.js';
import type { RecordingWriter } from '../storage/recording-writer.js';
import type { RecordingDescriptor } from '../storage/types.js';
import { ErrorCode, VcrError, isVcrError } from '../util/errors.js';
import type { ArchiveStore, QuarantineInfo, RecordingInfo, RecordingReaderPort, RecordingWriterPort, TimeIndexView } from './ports.js';

export function toInfo(d: RecordingDescriptor): RecordingInfo {
  return {
    recordingId: d.recordingId,
    state: d.state === 'valid' ? d.lifecycle : d.state,
    startPosition: d.startPosition,
    stopPosition: d.stopPosition,
    startUtcNs: d.startUtcNs,
    stopUtcNs: d.stopUtcNs,
    startMonoNs: d.startMonoNs,
    stopMonoNs: d.stopMonoNs,
    eventCount: d.eventCount,
    segmentLength: d.segmentLength,
    channel: d.channel,
    aliases: [...d.aliases],
    source: d.source,
  };
}

/** The storage writer behind the writer port (event counting for progress). */
export class WriterBinding implements RecordingWriterPort {
  eventCount: number;

  constructor(protected w: RecordingWriter) {
    this.eventCount = w.snapshot().eventCount;
  }

  get recordingId(): number {
    return this.w.recordingId;
  }

  get position(): number {
    return this.w.position;
  }

  append(buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags = 0, source?: Uint8Array, sourceOffset?: number): number {
    // staged: the session commits after each batch, which writes the frames (RecordingWriter.appendStaged)
    const p = this.w.appendStaged(buffer, offset, length, utcNs, monoNs, flags, source, sourceOffset);
    this.eventCount++;
    return p;
  }

  commit(): void {
    this.w.commit();
    const err = this.w.error;
    if (this.w.isFailed && err) throw err;
  }

  stop(utcNs: bigint): void {
    this.w.stop(utcNs);
  }
}

export class StorageBinding implements ArchiveStore {
  private constructor(readonly archive: Archive) {}

  static open(dir: string, options: ArchiveOptions): StorageBinding {
    return new StorageBinding(Archive.open(dir, options));
  }

  createRecording(p: { channel: string; aliases: string[]; source: string; startUtcNs: bigint; startMonoNs: bigint }): RecordingWriterPort {
    return new WriterBinding(this.archive.createRecording(p));
  }

  listRecordings(): RecordingInfo[] {
    return this.archive.listRecordings().map(toInfo);
  }

  describe(recordingId: number): RecordingInfo | undefined {
    try {
      const d = this.archive.describe(recordingId);
      return d ? toInfo(d) : undefined;
    } catch (err) {
      if (isVcrError(err, ErrorCode.UNKNOWN_RECORDING)) return undefined;
      throw err;
    }
  }

  openReader(recordingId: number, position: number, follow: boolean): RecordingReaderPort {
    return this.archive.openReader(recordingId, { position, follow });
  }

  findPosition(recordingId: number, utcNs: bigint): number {
    return this.archive.findPosition(recordingId, utcNs);
  }

  // Intervals on the wire and in the CLI are closed, [from, to], like reads and replays;
  // storage's are half-open, [from, to). This binding is the one place that converts.
  addQuarantine(channel: string, fromUtcNs: bigint, toUtcNs: bigint): number {
    return this.archive.addQuarantine({ ...(channel !== '' ? { channel } : {}), fromUtcNs, toUtcNs: toUtcNs + 1n });
  }

  removeQuarantine(quarantineId: number): void {
    if (!this.archive.removeQuarantine(quarantineId)) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `no quarantine ${quarantineId}`);
    }
  }

  listQuarantines(): QuarantineInfo[] {
    return this.archive.listQuarantines().map((q) => ({
      quarantineId: q.id,
      channel: q.channel ?? '',
      fromUtcNs: q.fromUtcNs,
      toUtcNs: q.toUtcNs - 1n,
    }));
  }

  deleteEvents(channel: string, fromUtcNs: bigint, toUtcNs: bigint): number {
    return this.archive.deleteEvents({ ...(channel !== '' ? { channel } : {}), fromUtcNs, toUtcNs: toUtcNs + 1n }).framesDeleted;
  }

  /** Segment files and their bytes (storage walks the directory; a query, not the hot path). */
  usage(): { segments: number; bytes: number } {
    return this.archive.usage();
  }

  timeIndex(recordingId: number): TimeIndexView | undefined {
    try {
      return this.archive.timeIndex(recordingId);
    } catch {
      return undefined;
    }
  }

  heartbeat(): void {
    this.archive.doWork();
  }

  close(): void {
    this.archive.close();
  }
}
