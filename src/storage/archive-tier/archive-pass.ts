/**
 * One archive pass as a session (state, doWork, isDone, close): finds the sealed segments
 * whose every event is older than `afterAgeMs` and moves each to the archive location in the
 * crash-safe order of docs/ARCHIVER.md ("Archive tier"):
 *   1. write the archived copy (temp name, a block per doWork, fsync, rename, fsync dir);
 *   2. verify it (a block per doWork: block CRCs, frame CRCs, digest against the source's);
 *   3. record the new location: the `.arc` reference (temp, fsync, rename, fsync dir), and in
 *      a cluster the segment's record (`recordLocation`, awaited);
 *   4. only then remove the local `.rec`.
 * Each doWork does at most one block of compression or verification. A segment that fails
 * (damaged source, full location, digest mismatch) is reported in the result, its partial copy
 * removed, and the pass goes on with the next one. A dry run lists the candidates only.
 *
 * `pauseAt` (env VCR_ARCHIVE_PAUSE_AT in the archiver) stops the pass for good at a step, so a
 * test can SIGKILL the process there: 'writing' (first block in the temp file), 'written',
 * 'verified', 'recorded', 'removed'.
 */
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '../../agent/agent.js';
import { VcrError, ErrorCode } from '../../util/errors.js';
import type { Archive } from '../archive.js';
import { readDeletionLog } from '../deletion-log.js';
import type { SegmentSummary } from '../digest.js';
import { syncDirectory, type SegmentFiles } from '../segment-files.js';
import { ArchivedWriter, type SealedCopy } from './archived-writer.js';
import { CopyVerifier } from './copy-verifier.js';
import { writeRef } from './ref-file.js';
import { TIER_LAYOUT_VERSION, archivedFileName, compressionOf, type CompressionName } from './tier-layout.js';

export const ArchivePassState = {
  SCANNING: 'scanning',
  WRITING: 'writing',
  VERIFYING: 'verifying',
  RECORDING: 'recording',
  REMOVING: 'removing',
  PAUSED: 'paused',
  DONE: 'done',
  CLOSED: 'closed',
} as const;
export type ArchivePassStateName = (typeof ArchivePassState)[keyof typeof ArchivePassState];

export type PausePoint = 'writing' | 'written' | 'verified' | 'recorded' | 'removed';
export const PAUSE_POINTS: readonly PausePoint[] = ['writing', 'written', 'verified', 'recorded', 'removed'];

export interface ArchivedSegmentInfo {
  recordingId: number;
  base: number;
  digest: string;
  locationId: string;
  path: string;
  fileBytes: number;
}

export interface ArchivePassOptions {
  /** Directory of the archive location where this archive's copies go. */
  locationDir: string;
  locationId: string;
  afterAgeMs: number;
  compression: CompressionName;
  level?: number;
  blockSize: number;
  dryRun?: boolean;
  nowMs: () => number;
  /** A cluster's word on a segment: may it be archived here, and the digest its record holds. */
  segmentCheck?: (recordingId: number, base: number) => { ok: boolean; digest?: string };
  /** Step 3 in a cluster: record the archived copy in the segment's record. */
  recordLocation?: (info: ArchivedSegmentInfo) => Promise<void>;
  pauseAt?: PausePoint;
  onPause?: (at: PausePoint) => void;
}

export interface Candidate {
  recordingId: number;
  channel: string;
  base: number;
  bytes: number;
}

export interface ArchivePassResult {
  dryRun: boolean;
  candidates: Candidate[];
  segmentsArchived: number;
  /** Local segment bytes freed. */
  bytesIn: number;
  /** Bytes of the archived copies written. */
  bytesOut: number;
  failures: { recordingId: number; base: number; code: number; message: string }[];
}

interface Current {
  c: Candidate;
  files: SegmentFiles;
  finalPath: string;
  writer?: ArchivedWriter;
  sealed?: SealedCopy;
  verifier?: CopyVerifier;
  verified?: SegmentSummary;
  expectedDigest?: string;
  recording?: { done: boolean; error?: unknown };
}

let nextPassId = 1;

export class ArchivePass implements Session {
  readonly sessionId = nextPassId++;
  state: ArchivePassStateName = ArchivePassState.SCANNING;
  readonly result: ArchivePassResult;
  private queue: Candidate[] = [];
  private cur: Current | undefined;
  blocksDone = 0;

  constructor(
    private readonly archive: Archive,
    private readonly o: ArchivePassOptions,
  ) {
    this.result = { dryRun: o.dryRun ?? false, candidates: [], segmentsArchived: 0, bytesIn: 0, bytesOut: 0, failures: [] };
  }

  /** Segments handled so far (archived or failed) and in all. */
  get progress(): { done: number; total: number; blocks: number } {
    return { done: this.result.segmentsArchived + this.result.failures.length, total: this.result.candidates.length, blocks: this.blocksDone };
  }

  isDone(): boolean {
    return this.state === ArchivePassState.DONE || this.state === ArchivePassState.CLOSED;
  }

  doWork(): number {
    switch (this.state) {
      case ArchivePassState.SCANNING:
        try {
          this.scan();
        } catch (err) {
          // the pass ends with the failure recorded; a scan that throws again each cycle would spin
          const e = err instanceof VcrError ? err : new VcrError(ErrorCode.IO_ERROR, String((err as Error)?.message ?? err));
          this.result.failures.push({ recordingId: -1, base: -1, code: e.code, message: e.message });
          this.state = ArchivePassState.DONE;
        }
        return 1;
      case ArchivePassState.WRITING:
      case ArchivePassState.VERIFYING:
      case ArchivePassState.RECORDING:
      case ArchivePassState.REMOVING:
        try {
          return this.stepSegment();
        } catch (err) {
          this.fail(err);
          return 1;
        }
      default:
        return 0;
    }
  }

  close(): void {
    if (this.state === ArchivePassState.CLOSED) return;
    this.cur?.writer?.abort();
    this.cur?.verifier?.close();
    this.state = ArchivePassState.CLOSED;
  }

  private scan(): void {
    const cutoffNs = BigInt(this.o.nowMs() - this.o.afterAgeMs) * 1_000_000n;
    for (const d of this.archive.listRecordings()) {
      let files: SegmentFiles;
      try {
        files = this.archive.segmentFiles(d.recordingId);
      } catch {
        continue; // an unreadable recording: nothing to move
      }
      const segLen = d.segmentLength;
      let cutoff: number;
      let listing: ReturnType<Archive['listSegments']>;
      try {
        cutoff = this.cutoffPosition(d.recordingId, cutoffNs);
        listing = this.archive.listSegments(d.recordingId);
      } catch (err) {
        // one recording this pass cannot look at is no reason to stop the others
        const e = err instanceof VcrError ? err : new VcrError(ErrorCode.IO_ERROR, String((err as Error)?.message ?? err));
        this.result.failures.push({ recordingId: d.recordingId, base: -1, code: e.code, message: e.message });
        continue;
      }
      const live = this.archive.openSegmentInfo(d.recordingId)?.base;
      for (const l of listing) {
        if (l.state !== 'present' || l.base === live || files.isArchived(l.base)) continue;
        const old = cutoff >= l.base + segLen || (l.end !== undefined && cutoff >= l.end && d.lifecycle !== 'recording');
        if (!old) continue;
        if (this.o.segmentCheck && !this.o.segmentCheck(d.recordingId, l.base).ok) continue;
        this.result.candidates.push({ recordingId: d.recordingId, channel: d.channel, base: l.base, bytes: segLen });
      }
    }
    this.queue = [...this.result.candidates];
    if (this.result.dryRun) this.state = ArchivePassState.DONE;
    else this.startNext();
  }

  /**
   * The position of the recording's first event at or after `cutoffNs`. In a cluster the
   * segment where the cutoff falls may be held by other nodes only (SEGMENT_ELSEWHERE or
   * away): then the time index alone answers with a lower bound (the last sample older than the
   * cutoff), which only ever keeps a segment hot one pass longer, never archives a young one.
   */
  private cutoffPosition(recordingId: number, cutoffNs: bigint): number {
    try {
      return this.archive.findPosition(recordingId, cutoffNs);
    } catch (err) {
      if (!(err instanceof VcrError) || (err.code !== ErrorCode.SEGMENT_ELSEWHERE && err.code !== ErrorCode.REPLICA_UNAVAILABLE)) throw err;
      return Math.max(0, this.archive.timeIndex(recordingId).floorBefore(cutoffNs));
    }
  }

  private startNext(): void {
    this.cur = undefined;
    const c = this.queue.shift();
    if (!c) {
      this.state = ArchivePassState.DONE;
      return;
    }
    const files = this.archive.segmentFiles(c.recordingId);
    this.cur = { c, files, finalPath: join(this.o.locationDir, archivedFileName(c.recordingId, c.base)) };
    this.state = ArchivePassState.WRITING;
  }

  private stepSegment(): number {
    const cur = this.cur!;
    const { c, files } = cur;
    switch (this.state) {
      case ArchivePassState.WRITING: {
        if (!cur.writer) {
          const view = this.archive.segmentSource(c.recordingId).get(c.base);
          if (!Buffer.isBuffer(view)) throw new VcrError(ErrorCode.SEGMENT_MISSING, `segment ${c.base} of recording ${c.recordingId} is ${String(view)} now`);
          const d = this.archive.describe(c.recordingId);
          const check = this.o.segmentCheck?.(c.recordingId, c.base);
          if (check?.digest !== undefined) cur.expectedDigest = check.digest;
          cur.writer = new ArchivedWriter({
            recordingId: c.recordingId,
            base: c.base,
            segmentLength: files.segmentLength,
            from: Math.max(d.startPosition, c.base) - c.base,
            limit: d.stopPosition,
            source: view,
            compression: compressionOf(this.o.compression),
            ...(this.o.level !== undefined ? { level: this.o.level } : {}),
            blockSize: this.o.blockSize,
            tempPath: `${cur.finalPath}.tmp`,
            finalPath: cur.finalPath,
          });
        }
        const last = cur.writer.step();
        this.blocksDone++;
        if (cur.writer.blocksWritten === 1 && this.pause('writing')) return 1;
        if (!last) return 1;
        cur.sealed = cur.writer.seal(readDeletionLog(files, c.base));
        if (cur.expectedDigest !== undefined && cur.sealed.summary.digest !== cur.expectedDigest) {
          throw new VcrError(ErrorCode.DIGEST_MISMATCH, `segment ${c.base} of recording ${c.recordingId}: local digest ${cur.sealed.summary.digest} is not the cluster's ${cur.expectedDigest}`);
        }
        this.state = ArchivePassState.VERIFYING;
        this.pause('written');
        return 1;
      }
      case ArchivePassState.VERIFYING: {
        const d = this.archive.describe(c.recordingId);
        cur.verifier ??= new CopyVerifier(cur.finalPath, {
          recordingId: c.recordingId,
          base: c.base,
          segmentLength: files.segmentLength,
          from: Math.max(d.startPosition, c.base) - c.base,
          limit: d.stopPosition,
          digest: cur.sealed!.summary.digest,
        });
        this.blocksDone++;
        if (!cur.verifier.step()) return 1;
        cur.verified = cur.verifier.result(readDeletionLog(files, c.base));
        cur.verifier.close();
        this.state = ArchivePassState.RECORDING;
        this.pause('verified');
        return 1;
      }
      case ArchivePassState.RECORDING: {
        if (!cur.recording) {
          if (files.status(c.base) !== 'present') {
            // deleted (tombstone) or dropped meanwhile: the copy is not needed
            this.removeCopy(cur);
            this.startNext();
            return 1;
          }
          const s = cur.verified!;
          const info: ArchivedSegmentInfo = { recordingId: c.recordingId, base: c.base, digest: s.digest, locationId: this.o.locationId, path: cur.finalPath, fileBytes: cur.sealed!.fileBytes };
          writeRef(files.dir, {
            recordingId: c.recordingId,
            base: c.base,
            layoutVersion: TIER_LAYOUT_VERSION,
            fileBytes: statSync(cur.finalPath).size,
            archivedAtMs: this.o.nowMs(),
            firstUtcNs: s.firstUtcNs,
            lastUtcNs: s.lastUtcNs,
            frames: s.frames,
            end: s.end,
            compression: compressionOf(this.o.compression),
            dataLength: cur.sealed!.dataLength,
            digest: s.digest,
            locationId: this.o.locationId,
            path: cur.finalPath,
          });
          const rec: { done: boolean; error?: unknown } = { done: this.o.recordLocation === undefined };
          cur.recording = rec;
          this.o.recordLocation?.(info).then(
            () => (rec.done = true),
            (err: unknown) => {
              rec.error = err;
              rec.done = true;
            },
          );
        }
        if (!cur.recording.done) return 0;
        // the cluster could not record it: the local file stays and is still the segment; the reference stays too (it is true)
        if (cur.recording.error !== undefined) throw cur.recording.error;
        this.state = ArchivePassState.REMOVING;
        this.pause('recorded');
        return 1;
      }
      case ArchivePassState.REMOVING: {
        files.remove(c.base);
        syncDirectory(files.dir);
        this.archive.forgetSegment(c.recordingId, c.base);
        this.result.segmentsArchived++;
        this.result.bytesIn += files.segmentLength;
        this.result.bytesOut += cur.sealed!.fileBytes;
        if (this.pause('removed')) return 1;
        this.startNext();
        return 1;
      }
      default:
        return 0;
    }
  }

  /** True (and the pass stops for good) when the test hook says to stop here. */
  private pause(at: PausePoint): boolean {
    if (this.o.pauseAt !== at) return false;
    this.state = ArchivePassState.PAUSED;
    this.o.onPause?.(at);
    return true;
  }

  private fail(err: unknown): void {
    const cur = this.cur;
    if (!cur) {
      this.state = ArchivePassState.DONE;
      return;
    }
    const e = err instanceof VcrError ? err : new VcrError(ErrorCode.IO_ERROR, String((err as Error)?.message ?? err));
    this.result.failures.push({ recordingId: cur.c.recordingId, base: cur.c.base, code: e.code, message: e.message });
    cur.writer?.abort();
    cur.verifier?.close();
    // before the reference exists the copy is only a copy: it goes. A cluster that could not
    // record it does not know the copy: the reference goes first (durably), then the copy.
    if (cur.recording && this.state === ArchivePassState.RECORDING) {
      try {
        unlinkSync(cur.files.archivedRefPath(cur.c.base));
        syncDirectory(cur.files.dir);
      } catch {
        // not written
      }
    }
    if (!cur.recording || this.state === ArchivePassState.RECORDING) this.removeCopy(cur);
    this.startNext();
  }

  private removeCopy(cur: Current): void {
    try {
      unlinkSync(cur.finalPath);
      syncDirectory(this.o.locationDir);
    } catch {
      // never written
    }
  }
}
