/**
 * Catalog questions answered from the recordings' descriptors: filtering for list requests,
 * resolving a channel by its name or an alias, and the channel view (primary name, aliases,
 * latest source, recording count). Pure functions over RecordingInfo, so they are tested
 * without an archive.
 */
import type { RecordingInfo, RecordingStateName } from './ports.js';

export interface RecordingFilter {
  fromRecordingId: number;
  maxCount: number;
  states: Set<string>;
  fromUtcNs: bigint | null;
  toUtcNs: bigint | null;
  channel: string;
}

export function matchesChannel(r: { readonly channel: string; readonly aliases: readonly string[] }, name: string): boolean {
  return r.channel === name || r.aliases.includes(name);
}

/** The recording's UTC extent; a live recording extends to nowUtcNs. */
export function extentOf(r: RecordingInfo, nowUtcNs: bigint): [bigint, bigint] {
  const end = r.state === 'recording' ? (nowUtcNs > r.stopUtcNs ? nowUtcNs : r.stopUtcNs) : r.stopUtcNs;
  return [r.startUtcNs, end < r.startUtcNs ? r.startUtcNs : end];
}

export function overlaps(r: RecordingInfo, from: bigint | null, to: bigint | null, nowUtcNs: bigint): boolean {
  const [start, end] = extentOf(r, nowUtcNs);
  if (from !== null && end < from) return false;
  if (to !== null && start > to) return false;
  return true;
}

export function filterRecordings(all: RecordingInfo[], f: RecordingFilter, nowUtcNs: bigint): RecordingInfo[] {
  const out: RecordingInfo[] = [];
  const max = f.maxCount > 0 ? f.maxCount : Number.MAX_SAFE_INTEGER;
  for (const r of all) {
    if (out.length >= max) break;
    if (r.recordingId < f.fromRecordingId) continue;
    if (f.states.size > 0 && !f.states.has(r.state as RecordingStateName)) continue;
    if (f.channel !== '' && !matchesChannel(r, f.channel)) continue;
    if (!overlaps(r, f.fromUtcNs, f.toUtcNs, nowUtcNs)) continue;
    out.push(r);
  }
  return out;
}

export interface ChannelView {
  channel: string;
  aliases: string[];
  source: string;
  activeRecordingId: number | null;
  recordingCount: number;
}

/** One entry per primary channel name, in order of first recording. */
export function channelViews(all: RecordingInfo[], activeByChannel: Map<string, number>): ChannelView[] {
  const byName = new Map<string, ChannelView>();
  for (const r of all) {
    if (r.state === 'deleted' || r.state === 'invalid') continue;
    let v = byName.get(r.channel);
    if (!v) {
      v = { channel: r.channel, aliases: [], source: r.source, activeRecordingId: null, recordingCount: 0 };
      byName.set(r.channel, v);
    }
    v.recordingCount++;
    v.source = r.source;
    for (const a of r.aliases) if (!v.aliases.includes(a)) v.aliases.push(a);
  }
  for (const [name, id] of activeByChannel) {
    const v = byName.get(name);
    if (v) v.activeRecordingId = id;
  }
  return [...byName.values()];
}

/** The primary channel name that `name` refers to (itself or an alias), if any recording knows it. */
export function resolveChannel(all: RecordingInfo[], name: string): string | undefined {
  let found: string | undefined;
  for (const r of all) if (matchesChannel(r, name)) found = r.channel;
  return found;
}
