/**
 * Continuation recordings (docs/REPLICATION.md §7 "Continuation"): when a fence stopped a
 * recording R this node recorded at E while the node holds frames past E, those frames move
 * into a new recording R' (`continues: {R, E}`) and a session still recording goes on there.
 * Steps, in this order (continuation-steps.ts names the kill points of the test hook):
 *
 *   1. create R' in etcd (owner: this incarnation)                                  -> "created"
 *   2. create the local R' and have the reconciler track it
 *   3. re-append R's local frames from E on into R' (times and flags kept), commit  -> "copying", "copied"
 *   4. move the live session to R' (or stop R'), stop R's writer
 *   5. the reconciler publishes R' (segments, seals, stop); the replica manager then drops
 *      R's local bytes past E (awaitsContinuation is false from here on)
 *
 * Steps 2-4 run in one synchronous block, so a crash leaves one of: R' in etcd with no local
 * copy, with part of the frames, or with all of them (and, after step 4, a live R' like any
 * recording). The coordinator does not fence a continuation with no segment record (only its
 * owner holds anything of it), and R's local frames stay while an earlier incarnation's R' is
 * unfinished (awaitsContinuation). So whichever incarnation of the owner comes next finishes
 * it (`finish`): it reopens (or creates) the local R', appends the frames of R past E that R'
 * does not hold yet (R' holds a prefix of them, counted in events), stops it and hands it to
 * the reconciler, which takes the record over and publishes it. Idempotent: a crash while
 * finishing is finished again the same way; the record is never made twice. If R's frames are
 * gone (wiped directory), R' is stopped empty, and that is logged and counted.
 */
import type { ClusterRecording } from '../cluster/cluster-keys.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { awaitsContinuation } from '../cluster/replica-manager.js';
import type { Archive } from '../storage/archive.js';
import type { RecordingWriter } from '../storage/recording-writer.js';
import type { ArchiverCounters } from './archiver-counters.js';
import type { ClusterWriter } from './cluster-writer.js';
import { killIfAt, type ContinuationStep } from './continuation-steps.js';

export type NewClusterRecording = { channel: string; aliases: string[]; source: string; startUtcNs: bigint; startMonoNs: bigint };

/** What the cluster binding lends the continuation maker. */
export interface ContinuationHost {
  /** recordings this process writes: id -> writer */
  readonly writers: Map<number, RecordingWriter>;
  /** the writers recording sessions append to, by the recording they append to now */
  readonly sessionWriters: Map<number, ClusterWriter>;
  /** Step 1: the etcd record of a new recording (owner: this incarnation). */
  createRecord(p: NewClusterRecording, continues: { recordingId: number; position: number }): Promise<ClusterRecording>;
  /** A local writer of a recording in etcd becomes this process's (writers, reconciler). */
  track(w: RecordingWriter): void;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ContinuationMaker {
  /** fenced recordings being continued now (their local bytes are the recorder's) */
  private readonly continuing = new Set<number>();
  /**
   * fenced recordings this process has continued (R -> R'): the view shows R' a moment after its
   * create commits, and until then R still looks like it awaits a continuation
   */
  private readonly continued = new Map<number, number>();
  /** recordings whose tail could not be continued or finished (logged once; the bytes stay on disk) */
  private readonly abandoned = new Set<number>();

  constructor(
    private readonly node: ClusterNode,
    private readonly archive: Archive,
    private readonly host: ContinuationHost,
    private readonly counters: ArchiverCounters | undefined,
    /** test hook: SIGKILL this process right after a step (continuation-steps.ts) */
    private readonly killAt: ContinuationStep | undefined,
  ) {}

  /** The recording's local bytes are being moved, or wait for this node to finish a continuation. */
  isBusy(recordingId: number): boolean {
    if (this.continuing.has(recordingId)) return true;
    const r = this.node.view.recording(recordingId)?.value;
    return r !== undefined && this.isUnfinished(r);
  }

  /**
   * A continuation an earlier incarnation of this node made (step 1) and this process has not
   * taken up: it waits for `finish`.
   */
  private isUnfinished(r: ClusterRecording): boolean {
    return (
      r.continues !== undefined &&
      r.owner.node === this.node.nodeId &&
      (r.state === 'recording' || r.state === 'fencing') &&
      r.owner.lease !== this.node.incarnation &&
      !this.host.writers.has(r.recordingId) &&
      // made by this process under a lease lost since: the create's callback is about to take it up
      !this.continuing.has(r.continues.recordingId) &&
      !this.abandoned.has(r.recordingId)
    );
  }

  /**
   * The reconciler found recording R stopped by a fence while this process wrote it: the
   * frames it holds past the fenced end E move into a continuation recording, and the
   * session (if still recording) goes on there.
   */
  onFenced(recordingId: number): void {
    const w = this.host.writers.get(recordingId);
    const rec = this.node.view.recording(recordingId)?.value;
    if (!w || !rec) return;
    const session = this.host.sessionWriters.get(recordingId);
    const live = w.isActive && session?.target === w;
    if (!live && w.position <= rec.stopPosition) {
      this.host.writers.delete(recordingId);
      return;
    }
    this.continueRecording(recordingId, rec.stopPosition, w);
  }

  /**
   * From the heartbeat: continuations an earlier incarnation left unfinished are finished, and
   * recordings this node recorded in an earlier life (or this one), fenced below what its disk
   * holds, are continued. Cheap when there is nothing to do.
   */
  scan(): void {
    const view = this.node.view;
    if (!this.node.ready || view.recordings.size === 0) return;
    for (const { value: r } of view.recordings.values()) {
      if (r.owner.node !== this.node.nodeId || this.continuing.has(r.recordingId)) continue;
      if (this.isUnfinished(r)) {
        this.finish(r);
        continue;
      }
      if (this.host.writers.has(r.recordingId)) {
        // written here, and fenced by the cluster (a continuation that failed before is retried)
        if ((r.state === 'stopped' || r.state === 'failed') && r.owner.lease !== this.node.incarnation && !this.node.reconciler.isOwned(r.recordingId)) this.onFenced(r.recordingId);
        continue;
      }
      let local;
      try {
        local = this.archive.describe(r.recordingId);
      } catch {
        continue;
      }
      if (local.lifecycle === 'recording' || !awaitsContinuation(view, r, this.node.nodeId, local.stopPosition, this.node.incarnation)) continue;
      this.continueRecording(r.recordingId, r.stopPosition, undefined);
    }
  }

  private continueRecording(recordingId: number, end: number, w: RecordingWriter | undefined): void {
    if (this.continuing.has(recordingId) || this.abandoned.has(recordingId) || this.continued.has(recordingId)) return;
    const log = this.node.log;
    for (const v of this.node.view.recordings.values()) {
      if (v.value.continues?.recordingId !== recordingId) continue;
      // never a second continuation: an unfinished one is finished by `scan`, or this process finishes it now
      if (this.isUnfinished(v.value) || this.host.writers.has(v.value.recordingId)) return;
      this.abandoned.add(recordingId);
      log.error({ recordingId, continuation: v.value.recordingId }, 'a finished continuation exists but this node holds more past the fenced end; the frames stay in the local files');
      return;
    }
    const d = w ? w.snapshot() : this.archive.describe(recordingId);
    let first: { utcNs: bigint; monoNs: bigint } | undefined;
    try {
      first = this.firstFrameAt(recordingId, end);
    } catch (err) {
      // the local bytes from the fenced end on cannot be read: keep them on disk, say so once
      this.abandoned.add(recordingId);
      log.error({ recordingId, fencedAt: end, error: message(err) }, 'frames past the fenced end cannot be read here; they stay in the local files');
      return;
    }
    this.continuing.add(recordingId);
    log.warn({ recordingId, fencedAt: end, localEnd: d.stopPosition, live: w?.isActive ?? false }, 'recording fenced below what this node holds: continuing it in a new recording');
    this.host
      .createRecord({ channel: d.channel, aliases: d.aliases, source: d.source, startUtcNs: first?.utcNs ?? d.stopUtcNs, startMonoNs: first?.monoNs ?? d.stopMonoNs }, { recordingId, position: end })
      .then((rec) => {
        killIfAt(this.killAt, 'created', log, { recordingId, continuation: rec.recordingId });
        const next = this.archive.createRecording({ channel: rec.channel, aliases: rec.aliases, source: rec.source, startUtcNs: rec.startUtcNs, startMonoNs: rec.startMonoNs, recordingId: rec.recordingId });
        this.host.track(next);
        this.continued.set(recordingId, next.recordingId);
        if (this.killAt === 'copying') {
          this.copyFrames(recordingId, end, next, 0, Math.floor(this.countFrames(recordingId, end) / 2));
          killIfAt(this.killAt, 'copying', log, { recordingId, continuation: next.recordingId });
        }
        const moved = this.copyFrames(recordingId, end, next, 0);
        killIfAt(this.killAt, 'copied', log, { recordingId, continuation: next.recordingId });
        const session = this.host.sessionWriters.get(recordingId);
        if (w && session && session.target === w && w.isActive) {
          session.moveTo(next);
          this.host.sessionWriters.delete(recordingId);
          this.host.sessionWriters.set(next.recordingId, session);
        } else {
          next.stop(next.snapshot().stopUtcNs);
        }
        if (w?.isActive) w.stop(d.stopUtcNs);
        this.host.writers.delete(recordingId);
        this.counters?.add('continuationsMade');
        log.info({ recordingId, continuation: next.recordingId, framesMoved: moved }, 'continuation recording started');
      })
      .catch((err: unknown) => log.error({ recordingId, error: message(err) }, 'continuation recording failed; the frames stay in the local files'))
      .finally(() => this.continuing.delete(recordingId));
  }

  /**
   * Finishes continuation `c` that an earlier incarnation of this node created and did not
   * complete: the local copy is reopened (or made) and given the frames past the fenced end
   * it lacks, then stopped; the reconciler takes the record over and publishes it.
   */
  private finish(c: ClusterRecording): void {
    const log = this.node.log;
    const id = c.recordingId;
    const { recordingId: parent, position: end } = c.continues!;
    let w: RecordingWriter;
    try {
      w = this.openLocal(c);
    } catch (err) {
      this.abandoned.add(id);
      log.error({ recordingId: parent, continuation: id, error: message(err) }, 'cannot reopen an unfinished continuation here; the frames stay in the local files');
      return;
    }
    this.host.track(w);
    this.announceSealed(id, w.segmentBase);
    const held = w.snapshot().eventCount;
    let added = 0;
    let localEnd: number | undefined;
    try {
      localEnd = this.archive.describe(parent).stopPosition;
    } catch {
      localEnd = undefined; // not here any more (a wiped directory)
    }
    try {
      // R' holds the first `held` frames of R past E (it is written in R's order): append the rest
      if (localEnd !== undefined && localEnd > end) added = this.copyFrames(parent, end, w, held);
    } catch (err) {
      log.error({ recordingId: parent, continuation: id, fencedAt: end, error: message(err) }, 'frames past the fenced end cannot be read here; the continuation keeps what could be read');
    }
    w.stop(w.snapshot().stopUtcNs);
    if (w.snapshot().eventCount === 0) {
      this.counters?.add('continuationsEmptied');
      log.error({ recordingId: parent, continuation: id, fencedAt: end }, 'an unfinished continuation has no frames left on this node (wiped or lost): stopped empty');
      return;
    }
    this.counters?.add('continuationsFinished');
    log.warn({ recordingId: parent, continuation: id, framesHeld: held, framesAdded: added }, 'finished a continuation an earlier incarnation left unfinished');
  }

  /** The local continuation, writable from its local end (created if this node has none). */
  private openLocal(c: ClusterRecording): RecordingWriter {
    let exists = true;
    try {
      this.archive.describe(c.recordingId);
    } catch {
      exists = false;
    }
    if (exists) return this.archive.resumeRecording(c.recordingId);
    return this.archive.createRecording({ channel: c.channel, aliases: c.aliases, source: c.source, startUtcNs: c.startUtcNs, startMonoNs: c.startMonoNs, recordingId: c.recordingId });
  }

  /** Segments of the continuation sealed by an earlier process are told to the reconciler (the writer tells only its own). */
  private announceSealed(recordingId: number, resumeBase: number): void {
    for (const l of this.archive.listSegments(recordingId)) {
      if (l.base >= resumeBase || l.state !== 'present') continue;
      const s = this.archive.verifySegment(recordingId, l.base);
      if (s.frames > 0) this.node.onSealed({ recordingId, base: l.base, ...s });
    }
  }

  /** The times of the local frame at `position` (undefined at the local end); throws when the bytes there cannot be read. */
  private firstFrameAt(recordingId: number, position: number): { utcNs: bigint; monoNs: bigint } | undefined {
    let out: { utcNs: bigint; monoNs: bigint } | undefined;
    const r = this.archive.openReader(recordingId, { position });
    try {
      r.poll((_b, _o, _l, _p, utcNs, monoNs) => (out = { utcNs, monoNs }), 1);
    } finally {
      r.close();
    }
    return out;
  }

  /**
   * Re-appends the local frames of R from `from` to its current end into `to`, with their times
   * and flags, skipping the first `skip` (already there) and stopping after `limit`; commits.
   */
  private copyFrames(recordingId: number, from: number, to: RecordingWriter, skip: number, limit = Number.POSITIVE_INFINITY): number {
    const r = this.archive.openReader(recordingId, { position: from });
    let seen = 0;
    let n = 0;
    try {
      for (;;) {
        const got = r.poll((b, o, l, _p, utcNs, monoNs, flags) => {
          if (seen++ < skip || n >= limit) return;
          // a source address trailer follows the payload in the frame (flags say which)
          to.append(b, o, l, utcNs, monoNs, flags ?? 0, b, o + l);
          n++;
        }, 4096);
        if (got === 0 || n >= limit) break;
      }
    } finally {
      r.close();
    }
    to.commit();
    return n;
  }

  private countFrames(recordingId: number, from: number): number {
    const r = this.archive.openReader(recordingId, { position: from });
    let n = 0;
    try {
      while (r.poll(() => n++, 4096) > 0);
    } finally {
      r.close();
    }
    return n;
  }
}
