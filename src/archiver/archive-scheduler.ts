/**
 * Runs archive passes (src/storage/archive-tier) in the archiver's duty cycle: one every
 * `archive.intervalMs` (injected clock) and one whenever `vcr archive run` asks, never two at
 * once (a request while a pass runs joins it; a dry run asked during a real pass is refused
 * with NOT_READY). Each doWork steps the pass once: at most one block compressed or verified.
 * At start it prepares the location (`<location>/<owner>/`) and sweeps what an interrupted
 * pass left there. When a pass ends it updates the counters (and so the Prometheus gauges),
 * logs one line and sends an ArchivePassEnded notification.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from '../agent/agent.js';
import type { Archive } from '../storage/archive.js';
import { ArchivePass, PAUSE_POINTS, sweepLocation, tierStatus, type ArchivePassOptions, type ArchivePassResult, type PausePoint, type TierUsage } from '../storage/archive-tier/index.js';
import { storageError } from '../storage/io-errors.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import type { ArchiveTierConfig } from './archive-config.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ArchiverLog } from './archiver-services.js';

export interface ArchivePassView {
  passId: number;
  running: boolean;
  dryRun: boolean;
  segmentsTotal: number;
  blocks: number;
  result: ArchivePassResult;
}

export interface ArchiveStatusView {
  configured: boolean;
  location: string;
  tiers: TierUsage[];
  pass: ArchivePassView | undefined;
}

/** What control requests may do with the archive tier. */
export interface ArchiveTierOps {
  /** Starts a pass (or joins the running one); returns its id. */
  run(dryRun: boolean): number;
  status(): ArchiveStatusView;
}

export interface ArchiveSchedulerDeps {
  archive: Archive;
  config: ArchiveTierConfig | undefined;
  /** Names this archive's directory in the location (the node id in a cluster). */
  owner: string;
  nowMs: () => number;
  counters: ArchiverCounters;
  log: ArchiverLog;
  passEnded?: (passId: number, r: ArchivePassResult) => void;
  /** Cluster hooks (see ArchivePassOptions). */
  segmentCheck?: ArchivePassOptions['segmentCheck'];
  recordLocation?: ArchivePassOptions['recordLocation'];
  /** Test hook: every pass stops for good at this step (env VCR_ARCHIVE_PAUSE_AT). */
  pauseAt?: PausePoint;
}

/** The test hook from the environment, checked. */
export function pauseAtFromEnv(v = process.env.VCR_ARCHIVE_PAUSE_AT): PausePoint | undefined {
  if (v === undefined || v === '') return undefined;
  if (!PAUSE_POINTS.includes(v as PausePoint)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `VCR_ARCHIVE_PAUSE_AT must be one of ${PAUSE_POINTS.join(', ')}`);
  return v as PausePoint;
}

export class ArchiveScheduler implements Agent, ArchiveTierOps {
  readonly roleName = 'archive-scheduler';
  private pass: ArchivePass | undefined;
  private last: ArchivePass | undefined;
  private nextRunMs: number;
  readonly locationDir: string | undefined;

  constructor(private readonly deps: ArchiveSchedulerDeps) {
    const c = deps.config;
    this.locationDir = c ? join(c.location, deps.owner) : undefined;
    this.nextRunMs = c && c.intervalMs > 0 ? deps.nowMs() + c.intervalMs : Number.POSITIVE_INFINITY;
  }

  /** Prepares the location and removes what an interrupted pass left there (temp and unrecorded copies). */
  onStart(): void {
    if (!this.locationDir) return;
    try {
      mkdirSync(this.locationDir, { recursive: true });
    } catch (err) {
      throw storageError(err, `archive location ${this.locationDir}`);
    }
    const removed = sweepLocation(this.locationDir, this.deps.archive.dir);
    if (removed.length > 0) this.deps.log.warn({ location: this.locationDir, removed }, 'archive location: removed what an interrupted pass left');
  }

  doWork(): number {
    const c = this.deps.config;
    if (!c) return 0;
    if (!this.pass && this.deps.nowMs() >= this.nextRunMs) {
      this.start(false);
    }
    const p = this.pass;
    if (!p) return 0;
    const work = p.doWork();
    if (p.isDone()) this.finish(p);
    return work;
  }

  onClose(): void {
    this.pass?.close();
  }

  run(dryRun: boolean): number {
    if (!this.deps.config) throw new VcrError(ErrorCode.NOT_ALLOWED, 'no archive location is configured (config key "archive")');
    if (this.pass) {
      if (this.pass.result.dryRun !== dryRun) throw new VcrError(ErrorCode.NOT_READY, `archive pass ${this.pass.sessionId} is running; try again when it has ended`);
      return this.pass.sessionId;
    }
    return this.start(dryRun).sessionId;
  }

  status(): ArchiveStatusView {
    const p = this.pass ?? this.last;
    return {
      configured: this.deps.config !== undefined,
      location: this.locationDir ?? '',
      tiers: tierStatus(this.deps.archive),
      pass: p && { passId: p.sessionId, running: p === this.pass, dryRun: p.result.dryRun, segmentsTotal: p.result.candidates.length, blocks: p.blocksDone, result: p.result },
    };
  }

  private start(dryRun: boolean): ArchivePass {
    const c = this.deps.config!;
    if (c.intervalMs > 0) this.nextRunMs = this.deps.nowMs() + c.intervalMs;
    const pass = new ArchivePass(this.deps.archive, {
      locationDir: this.locationDir!,
      locationId: c.locationId,
      afterAgeMs: c.afterAgeMs,
      compression: c.compression,
      ...(c.level !== undefined ? { level: c.level } : {}),
      blockSize: c.blockSize,
      dryRun,
      nowMs: this.deps.nowMs,
      ...(this.deps.segmentCheck ? { segmentCheck: this.deps.segmentCheck } : {}),
      ...(this.deps.recordLocation ? { recordLocation: this.deps.recordLocation } : {}),
      ...(this.deps.pauseAt ? { pauseAt: this.deps.pauseAt } : {}),
      onPause: (at) => this.deps.log.warn({ passId: pass.sessionId, at }, `archive pass paused at "${at}" (VCR_ARCHIVE_PAUSE_AT)`),
    });
    this.pass = pass;
    this.deps.log.info({ passId: pass.sessionId, dryRun }, 'archive pass started');
    return pass;
  }

  private finish(p: ArchivePass): void {
    p.close();
    this.pass = undefined;
    this.last = p;
    const r = p.result;
    const { counters } = this.deps;
    if (!r.dryRun) {
      counters.add('archivePasses');
      counters.add('archiveSegments', r.segmentsArchived);
      counters.add('archiveFailures', r.failures.length);
      counters.add('archiveBytesIn', r.bytesIn);
      counters.add('archiveBytesOut', r.bytesOut);
    }
    const line = { passId: p.sessionId, dryRun: r.dryRun, candidates: r.candidates.length, archived: r.segmentsArchived, failed: r.failures.length, bytesIn: r.bytesIn, bytesOut: r.bytesOut };
    if (r.failures.length > 0) this.deps.log.error({ ...line, failures: r.failures }, 'archive pass ended with failures');
    else this.deps.log.info(line, 'archive pass ended');
    this.deps.passEnded?.(p.sessionId, r);
  }
}
