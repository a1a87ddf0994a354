/**
 * The one order of events merged from several recordings: by UTC time, then recordingId, then
 * position. Every multi-recording merge uses it (the storage merged reader, the archiver's
 * time-interval replay, the client's merge of reliable reads), so the same events come out
 * in the same order whichever path produced them, on every run. Within one recording the
 * order is position order (UTC never goes backwards there), so the tie-breaks only decide
 * between recordings, and between events of one recording stamped with the same UTC.
 *
 * Two forms: one over plain numbers for hot paths that must not build an object per event
 * (cursors exposing their current frame's fields), one over objects for everything else.
 */

export interface MergeKey {
  readonly utcNs: bigint;
  readonly recordingId: number;
  readonly position: number;
}

/** Negative when event a comes before event b, positive when after, 0 for the same event. */
export function compareMergeOrder(aUtcNs: bigint, aRecordingId: number, aPosition: number, bUtcNs: bigint, bRecordingId: number, bPosition: number): number {
  if (aUtcNs !== bUtcNs) return aUtcNs < bUtcNs ? -1 : 1;
  if (aRecordingId !== bRecordingId) return aRecordingId - bRecordingId;
  return aPosition - bPosition;
}

/** compareMergeOrder over objects. */
export function compareMergeKeys(a: MergeKey, b: MergeKey): number {
  return compareMergeOrder(a.utcNs, a.recordingId, a.position, b.utcNs, b.recordingId, b.position);
}
