/**
 * The writer a recording session appends to in cluster mode. It is a WriterBinding that can be
 * moved to another storage writer: when a fence stopped this node's recording R at E while the
 * node kept recording (docs/REPLICATION.md §7, "Continuation"), the frames past E are
 * re-appended into a continuation recording R' and the session goes on appending into R'
 * without noticing: nothing the node received is discarded, and R stays as the fence left it.
 */
import type { RecordingWriter } from '../storage/recording-writer.js';
import { WriterBinding } from './storage-binding.js';

export class ClusterWriter extends WriterBinding {
  get target(): RecordingWriter {
    return this.w;
  }

  /** Appends go to `next` from now on (its frames so far are the continuation's). */
  moveTo(next: RecordingWriter): void {
    this.w = next;
    this.eventCount = next.snapshot().eventCount;
  }
}
