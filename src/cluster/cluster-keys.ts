/**
 * The cluster keyspace in etcd (docs/REPLICATION.md §3): key names and the JSON values stored
 * under them. Ids and positions are numbers (below 2^53); nanosecond times are decimal strings
 * in JSON and bigint in memory. Every value is parsed defensively: a value that does not
 * parse is reported (the view keeps the last good one), never trusted.
 */

export const KEY = {
  member: (node: string) => `m/${node}`,
  recordingIds: 'ids/recording',
  metaIds: 'ids/meta',
  recording: (id: number) => `r/${pad(id)}`,
  segment: (id: number, base: number) => `s/${pad(id)}/${pad(base)}`,
  segmentsOf: (id: number) => `s/${pad(id)}/`,
  hold: (id: number) => `h/${pad(id)}`,
  holdsVersion: 'holds-version',
  deletion: (id: number) => `d/${pad(id)}`,
  coord: 'coord',
  down: (node: string) => `down/${node}`,
  grace: (node: string) => `grace/${node}`,
  /** written by a node to learn when its watch has caught up with etcd (a read barrier) */
  sync: (node: string) => `sync/${node}`,
} as const;

export function pad(n: number): string {
  return String(n).padStart(16, '0');
}

export interface MemberValue {
  node: string;
  /** disk id of the node's archive directory (docs/REPLICATION.md §1) */
  disk: string;
  /** lease id (decimal string) = the incarnation */
  lease: string;
  pid: number;
  control: string;
  replication: string;
  /** finished rejoining: serves reads */
  ready: boolean;
  startedAtMs: number;
}

export interface CoordValue {
  node: string;
  disk: string;
}

export type RecordingStateName = 'recording' | 'stopped' | 'failed' | 'fencing';

export interface ClusterRecording {
  recordingId: number;
  channel: string;
  aliases: string[];
  source: string;
  segmentLength: number;
  state: RecordingStateName;
  owner: { node: string; lease: string };
  startPosition: number;
  stopPosition: number;
  startUtcNs: bigint;
  stopUtcNs: bigint;
  startMonoNs: bigint;
  stopMonoNs: bigint;
  eventCount: number;
  /** the node that stopped it: the owner, or the coordinator that fenced it */
  stoppedBy?: string;
  /** who created it (a retried create finds its own record) */
  token?: string;
  /** a continuation of a fenced recording (docs/REPLICATION.md §7) */
  continues?: { recordingId: number; position: number };
}

export type SegmentStateName = 'open' | 'sealed';

/** A copy of a sealed segment: on this node's disk (a wiped directory is a new disk). */
export interface ReplicaEntry {
  node: string;
  disk: string;
}

export interface ClusterSegment {
  recordingId: number;
  base: number;
  state: SegmentStateName;
  placement: string[];
  /** verified copies (sealed segments only) */
  replicas: ReplicaEntry[];
  end: number;
  frames: number;
  digest: string;
  firstUtcNs: bigint;
  lastUtcNs: bigint;
}

export interface ClusterHold {
  holdId: number;
  channel?: string;
  /** half-open, as storage keeps them */
  fromUtcNs: bigint;
  toUtcNs: bigint;
}

export interface ClusterDeletion {
  deletionId: number;
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  /** the recordings the channel named when the delete was committed */
  recordings: number[];
  /** the holds that covered the interval when the delete was committed */
  holds: { channel?: string; fromUtcNs: bigint; toUtcNs: bigint }[];
}

const NS_FIELDS = new Set(['startUtcNs', 'stopUtcNs', 'startMonoNs', 'stopMonoNs', 'firstUtcNs', 'lastUtcNs', 'fromUtcNs', 'toUtcNs']);

/** JSON with bigint nanosecond fields as decimal strings. */
export function encodeValue(v: object): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

/** Parses a JSON value, turning the nanosecond fields back into bigint; undefined if it does not parse. */
export function decodeValue<T>(text: string): T | undefined {
  try {
    return JSON.parse(text, (k, x) => (NS_FIELDS.has(k) && typeof x === 'string' && /^-?\d+$/.test(x) ? BigInt(x) : x)) as T;
  } catch {
    return undefined;
  }
}

export type ParsedKey =
  | { kind: 'member'; node: string }
  | { kind: 'recording'; recordingId: number }
  | { kind: 'segment'; recordingId: number; base: number }
  | { kind: 'hold'; holdId: number }
  | { kind: 'deletion'; deletionId: number }
  | { kind: 'counter'; name: string }
  | { kind: 'coord' }
  | { kind: 'down'; node: string }
  | { kind: 'grace'; node: string }
  | { kind: 'other'; key: string };

export function parseKey(key: string): ParsedKey {
  const parts = key.split('/');
  switch (parts[0]) {
    case 'm':
      return parts.length === 2 ? { kind: 'member', node: parts[1]! } : { kind: 'other', key };
    case 'r':
      return parts.length === 2 ? { kind: 'recording', recordingId: Number(parts[1]) } : { kind: 'other', key };
    case 's':
      return parts.length === 3 ? { kind: 'segment', recordingId: Number(parts[1]), base: Number(parts[2]) } : { kind: 'other', key };
    case 'h':
      return parts.length === 2 ? { kind: 'hold', holdId: Number(parts[1]) } : { kind: 'other', key };
    case 'd':
      return parts.length === 2 ? { kind: 'deletion', deletionId: Number(parts[1]) } : { kind: 'other', key };
    case 'coord':
      return parts.length === 1 ? { kind: 'coord' } : { kind: 'other', key };
    case 'down':
      return parts.length === 2 ? { kind: 'down', node: parts[1]! } : { kind: 'other', key };
    case 'grace':
      return parts.length === 2 ? { kind: 'grace', node: parts[1]! } : { kind: 'other', key };
    case 'ids':
    case 'holds-version':
      return { kind: 'counter', name: key };
    default:
      return { kind: 'other', key };
  }
}

export function isValidRecording(v: unknown): v is ClusterRecording {
  const r = v as ClusterRecording;
  return (
    !!r &&
    Number.isSafeInteger(r.recordingId) &&
    typeof r.channel === 'string' &&
    Array.isArray(r.aliases) &&
    typeof r.source === 'string' &&
    Number.isSafeInteger(r.segmentLength) &&
    ['recording', 'stopped', 'failed', 'fencing'].includes(r.state) &&
    !!r.owner &&
    typeof r.owner.node === 'string' &&
    Number.isSafeInteger(r.stopPosition) &&
    typeof r.startUtcNs === 'bigint' &&
    typeof r.stopUtcNs === 'bigint'
  );
}

export function isValidSegment(v: unknown): v is ClusterSegment {
  const s = v as ClusterSegment;
  return (
    !!s &&
    Number.isSafeInteger(s.recordingId) &&
    Number.isSafeInteger(s.base) &&
    (s.state === 'open' || s.state === 'sealed') &&
    Array.isArray(s.placement) &&
    Array.isArray(s.replicas) &&
    s.replicas.every((r) => !!r && typeof r.node === 'string' && typeof r.disk === 'string') &&
    Number.isSafeInteger(s.end)
  );
}
