/**
 * The steps of making a continuation recording (docs/REPLICATION.md §7, "Continuation"), named
 * so that a test can kill the archiver between them: VCR_CONTINUATION_KILL_AT (checked at start,
 * like VCR_ARCHIVE_PAUSE_AT for the archive tier) makes the process SIGKILL itself right after
 * the named step, so the restart meets exactly what a crash there leaves on disk and in etcd.
 *
 *   created  the continuation's etcd record is committed; nothing local yet
 *   copying  half of the frames past the fenced end are in the local continuation (committed)
 *   copied   all of them are (committed); the session has not moved, nothing is stopped
 */
import { ErrorCode, VcrError } from '../util/errors.js';

export type ContinuationStep = 'created' | 'copying' | 'copied';
export const CONTINUATION_STEPS: readonly ContinuationStep[] = ['created', 'copying', 'copied'];

/** The test hook from the environment, checked. */
export function continuationKillAtFromEnv(v = process.env.VCR_CONTINUATION_KILL_AT): ContinuationStep | undefined {
  if (v === undefined || v === '') return undefined;
  if (!CONTINUATION_STEPS.includes(v as ContinuationStep)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `VCR_CONTINUATION_KILL_AT must be one of ${CONTINUATION_STEPS.join(', ')}`);
  return v as ContinuationStep;
}

/** Kills this process (SIGKILL: no cleanup, no flush beyond what is already written) when the hook names `step`. */
export function killIfAt(killAt: ContinuationStep | undefined, step: ContinuationStep, log: { error(o: object, m: string): void }, detail: object): void {
  if (killAt !== step) return;
  log.error({ ...detail, step }, `continuation: killing the process at step "${step}" (VCR_CONTINUATION_KILL_AT)`);
  process.kill(process.pid, 'SIGKILL');
}
