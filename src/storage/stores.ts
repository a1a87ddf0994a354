/**
 * The three things an archive keeps that a cluster keeps cluster-wide instead: recording ids,
 * quarantine holds and the deletion ledger. Each is an interface here, so a cluster-wide store
 * (etcd, through the cluster layer, which keeps a local view the archive can read
 * synchronously) can take the place of the local default:
 * - ids: the catalog's dense local sequence (`CatalogIds`); a cluster may instead pass each
 *   recording's id to `Archive.createRecording({ recordingId })`;
 * - quarantines and deletions: holds.dat (`LocalHolds`). A deletion decided cluster-wide is
 *   applied with `Archive.deleteEvents({ deletionId, holds, recordings })`: its id, the holds
 *   that existed when it was decided and the recordings it covers come with it, and the ledger
 *   remembers that it was applied on this node, so applying it again does nothing.
 */
import type { Catalog } from './catalog.js';
import { readHolds, writeHolds, type HoldsData } from './holds-file.js';
import type { DeletionRecord, HoldInterval, QuarantineHold } from './types.js';

export interface RecordingIdAllocator {
  /** An id no recording of this archive has or had. */
  allocate(): number;
  /** Gives back an id `allocate` returned whose recording could not be created. */
  release(id: number): void;
}

export interface QuarantineStore {
  quarantines(): QuarantineHold[];
  /** Adds a hold; returns its id. */
  addQuarantine(q: HoldInterval): number;
  /** Removes a hold; false if there is none with that id. */
  removeQuarantine(id: number): boolean;
}

/** What a deletion is recorded with before it is applied (see DeletionRecord). */
export interface DeletionRequestRecord {
  id?: number;
  channel?: string;
  fromUtcNs: bigint;
  toUtcNs: bigint;
  holds?: HoldInterval[];
  recordings?: number[];
}

/** The deletions applied (or being applied) on this archive. */
export interface DeletionLedger {
  /** Deletions in the order they were recorded. */
  deletions(): DeletionRecord[];
  /**
   * Records a deletion before it is applied (framesDeleted -1, so an open after a crash
   * applies it again). Without `id` the ledger assigns one; with it the id is external.
   */
  begin(d: DeletionRequestRecord): DeletionRecord;
  /** Records the outcome of an applied deletion. */
  complete(d: DeletionRecord, result: { framesDeleted: number; bytesReclaimed: number }): void;
  /** The deletion with this external id, if this ledger has one. */
  findExternal(id: number): DeletionRecord | undefined;
}

/** Recording ids from the catalog: 0, 1, 2, ... past every id that has files on disk. */
export class CatalogIds implements RecordingIdAllocator {
  constructor(private readonly catalog: Catalog) {}

  allocate(): number {
    return this.catalog.allocate();
  }

  release(id: number): void {
    this.catalog.unallocate(id);
  }
}

/** Quarantines and deletions in the archive's holds.dat (rewritten whole at each change). */
export class LocalHolds implements QuarantineStore, DeletionLedger {
  private data: HoldsData;

  constructor(private readonly dir: string) {
    this.data = readHolds(dir);
  }

  quarantines(): QuarantineHold[] {
    return this.data.quarantines.map((q) => ({ ...q }));
  }

  addQuarantine(q: HoldInterval): number {
    const id = this.data.nextId;
    const hold: QuarantineHold = { id, fromUtcNs: q.fromUtcNs, toUtcNs: q.toUtcNs };
    if (q.channel !== undefined) hold.channel = q.channel;
    this.save({ ...this.data, nextId: id + 1, quarantines: [...this.data.quarantines, hold] });
    return id;
  }

  removeQuarantine(id: number): boolean {
    const rest = this.data.quarantines.filter((q) => q.id !== id);
    if (rest.length === this.data.quarantines.length) return false;
    this.save({ ...this.data, quarantines: rest });
    return true;
  }

  deletions(): DeletionRecord[] {
    return this.data.deletions.map(copyDeletion);
  }

  begin(d: DeletionRequestRecord): DeletionRecord {
    const external = d.id !== undefined;
    const id = d.id ?? this.data.nextId;
    const record: DeletionRecord = { id, fromUtcNs: d.fromUtcNs, toUtcNs: d.toUtcNs, framesDeleted: -1, bytesReclaimed: 0 };
    if (d.channel !== undefined) record.channel = d.channel;
    if (external) record.external = true;
    if (d.holds !== undefined) record.holds = d.holds.map((h) => ({ ...h }));
    if (d.recordings !== undefined) record.recordings = [...d.recordings];
    const others = this.data.deletions.filter((x) => !(external && x.external === true && x.id === id));
    this.save({ ...this.data, nextId: external ? this.data.nextId : id + 1, deletions: [...others, record] });
    return copyDeletion(record);
  }

  complete(d: DeletionRecord, result: { framesDeleted: number; bytesReclaimed: number }): void {
    const same = (x: DeletionRecord): boolean => x.id === d.id && (x.external === true) === (d.external === true);
    this.save({ ...this.data, deletions: this.data.deletions.map((x) => (same(x) ? { ...x, ...result } : x)) });
  }

  findExternal(id: number): DeletionRecord | undefined {
    const d = this.data.deletions.find((x) => x.external === true && x.id === id);
    return d ? copyDeletion(d) : undefined;
  }

  private save(h: HoldsData): void {
    writeHolds(this.dir, h);
    this.data = h;
  }
}

function copyDeletion(d: DeletionRecord): DeletionRecord {
  const c: DeletionRecord = { ...d };
  if (d.holds) c.holds = d.holds.map((h) => ({ ...h }));
  if (d.recordings) c.recordings = [...d.recordings];
  return c;
}
