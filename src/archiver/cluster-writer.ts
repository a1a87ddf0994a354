/**
 * The writer a recording session appends to in cluster mode. It is a WriterBinding that can be
 * moved to another storage writer: when a fence stopped this node's recording R at E while the
 * node kept recording (docs/REPLICATION.md §7, "Continuation"), the frames past E are
 * re-appended into a continuation recording R' and the session goes on appending into R'
 * without noticing: nothing the node received is discarded, and R stays as the fence left it.
 */
import type { RecordingWriter } from '../storage/recording-writer.js';
import type { RecordingWriterPort } from './ports.js';

export class ClusterWriter implements RecordingWriterPort {
  eventCount: number;

  constructor(private w: RecordingWriter) {
    this.eventCount = w.snapshot().eventCount;
  }

  get recordingId(): number {
    return this.w.recordingId;
  }

  get position(): number {
    return this.w.position;
  }

  get target(): RecordingWriter {
    return this.w;
  }

  append(buffer: Buffer, offset: number, length: number, utcNs: bigint, monoNs: bigint, flags = 0): number {
    const p = this.w.append(buffer, offset, length, utcNs, monoNs, flags);
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

  /** Appends go to `next` from now on (its frames so far are the continuation's). */
  moveTo(next: RecordingWriter): void {
    this.w = next;
    this.eventCount = next.snapshot().eventCount;
  }
}
