/**
 * What every replication service is given (docs/REPLICATION.md §5, §7, §9): this node's
 * identity, the cluster view (read only: no service writes etcd), its storage, the peer
 * network, its archive directory and an injected clock. Paths of the files the data path keeps
 * beside the archive are here too, so that every service names them the same way.
 */
import { join } from 'node:path';
import type { Archive } from '../../storage/archive.js';
import type { ClusterView } from '../cluster-view.js';
import type { PeerNetwork } from '../peer-network.js';

export interface ReplicationLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface ReplicationContext {
  self: string;
  disk(): string;
  incarnation(): string;
  /** the etcd mirror: read it, never write etcd from the data path */
  view: ClusterView;
  /** this node's storage */
  archive: Archive;
  network: PeerNetwork;
  /** the archive directory: `<dir>/incoming` holds copies being received, `<dir>/cache` remote reads */
  dir: string;
  /** wall-clock milliseconds (injected: tests step it) */
  nowMs(): number;
  log: ReplicationLog;
}

export function incomingDir(dir: string): string {
  return join(dir, 'incoming');
}

export function cacheDir(dir: string): string {
  return join(dir, 'cache');
}

/** `<R>-<base>.part`: a copy of segment (R, base) being received (mirror stream or fetch). */
export function partFileName(recordingId: number, base: number): string {
  return `${recordingId}-${base}.part`;
}

export const PART_FILE_PATTERN = /^(\d+)-(\d+)\.part$/;

/** The segment length of recording R as the view knows it, undefined when the view does not know R. */
export function segmentLengthOf(view: ClusterView, recordingId: number): number | undefined {
  return view.recording(recordingId)?.value.segmentLength;
}

/** `r/R` is being recorded by the incarnation `incarnation` of `node`: only then are mirror frames of R accepted. */
export function recordedBy(view: ClusterView, recordingId: number, node: string, incarnation: string): boolean {
  const r = view.recording(recordingId)?.value;
  return r !== undefined && r.state === 'recording' && r.owner.node === node && r.owner.lease === incarnation;
}
