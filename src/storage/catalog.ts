/**
 * catalog.dat: a 4096-byte header, then one 4096-byte descriptor per recording at
 * `headerLength + recordingId * 4096` (dead reckoning). Slots are read and written with
 * positional I/O; the catalog changes rarely (create, stop, recovery, failure), the live
 * fields go to each recording's metadata file instead.
 *
 * A slot that was never written reads as all zeros (ids given by a cluster leave holes): it is
 * reported `empty`, not corrupt. A damaged header (bad magic, lengths, nextRecordingId) is
 * rebuilt at a writable open: the slots behind it are intact or checked one by one anyway. A
 * version-1 header is migrated to the current format version at the first writable open.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CatalogHeaderDecoder,
  CatalogHeaderEncoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
} from '../../codecs/generated/storage/index.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { decodeDescriptor, encodeDescriptor } from './descriptor-codec.js';
import { storageError, writeFully } from './io-errors.js';
import {
  CATALOG_FILE,
  CATALOG_HEADER_LENGTH,
  CATALOG_MAGIC,
  CatalogHeaderOffset,
  DESCRIPTOR_LENGTH,
  FORMAT_VERSION,
  MESSAGE_HEADER_LENGTH,
  MIN_FORMAT_VERSION,
  SCHEMA_ID,
  TemplateId,
} from './layout.js';
import type { RecordingDescriptor } from './types.js';

export type CatalogSlot =
  | { recordingId: number; ok: true; descriptor: RecordingDescriptor }
  | { recordingId: number; ok: false; error: VcrError; empty?: boolean };

/** What catalog.dat looks like before it is opened (used to decide whether it can be rebuilt). */
export interface CatalogInspection {
  state: 'absent' | 'ok' | 'damaged-header';
  /** Ids the catalog covers: nextRecordingId, or the slots in the file when the header is damaged. */
  covered: number;
}

export class Catalog {
  private readonly slot = Buffer.alloc(DESCRIPTOR_LENGTH);
  /** The header record as read at open; nextRecordingId is encoded here and written alone. */
  private readonly headerEncoder = new CatalogHeaderEncoder();
  private closed = false;
  /** What open did (created, rebuilt the header, migrated), for recovery reports. */
  readonly actions: string[] = [];

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly readOnly: boolean,
    private nextId: number,
    private readonly syncWrites: boolean,
    private readonly header: Buffer,
    /** formatVersion of the file (an old version stays as it is in a read-only open). */
    readonly formatVersion: number,
  ) {
    this.headerEncoder.wrap(header, MESSAGE_HEADER_LENGTH);
  }

  /** Looks at catalog.dat without opening it for use; throws only UNSUPPORTED_FORMAT_VERSION. */
  static inspect(dir: string): CatalogInspection {
    const path = join(dir, CATALOG_FILE);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return { state: 'absent', covered: 0 };
    }
    const header = Buffer.alloc(CATALOG_HEADER_LENGTH);
    let n = 0;
    try {
      const fd = openSync(path, 'r');
      try {
        n = readSync(fd, header, 0, CATALOG_HEADER_LENGTH, 0);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw storageError(err, `cannot read ${path}`);
    }
    const h = checkHeader(header, n, path);
    if (h.damaged !== undefined) return { state: 'damaged-header', covered: slotsIn(size) };
    return { state: 'ok', covered: Math.max(h.nextId, adoptableSlots(size, h.nextId)) };
  }

  /** Opens (or, writable and absent, creates) the catalog of `dir`. */
  static open(dir: string, opts: { readOnly: boolean; syncWrites?: boolean }): Catalog {
    const path = join(dir, CATALOG_FILE);
    const actions: string[] = [];
    if (!existsSync(path)) {
      if (opts.readOnly) throw new VcrError(ErrorCode.CORRUPT_CATALOG, `no catalog in ${dir} (${CATALOG_FILE} is missing; \`vcr catalog recover --dir ${dir}\` rebuilds it from the metadata files)`);
      createCatalogFile(path);
    }
    let fd: number;
    try {
      fd = openSync(path, opts.readOnly ? 'r' : 'r+');
    } catch (err) {
      throw storageError(err, `cannot open ${path}`);
    }
    try {
      const header = Buffer.alloc(CATALOG_HEADER_LENGTH);
      const n = readSync(fd, header, 0, CATALOG_HEADER_LENGTH, 0);
      const h = checkHeader(header, n, path);
      let nextId = h.nextId;
      let version = h.version;
      if (h.damaged !== undefined) {
        // the slots are checked one by one at load: rebuild the header around them
        nextId = slotsIn(fstatSync(fd).size);
        version = FORMAT_VERSION;
        encodeHeader(header, nextId);
        if (!opts.readOnly) writeFully(fd, header, 0, CATALOG_HEADER_LENGTH, 0);
        actions.push(`catalog header rebuilt (${h.damaged}); ${nextId} slot(s) behind it`);
      } else if (version < FORMAT_VERSION && !opts.readOnly) {
        new CatalogHeaderEncoder().wrap(header, MESSAGE_HEADER_LENGTH).formatVersion(FORMAT_VERSION);
        new MessageHeaderEncoder().wrap(header, 0).version(CatalogHeaderEncoder.SCHEMA_VERSION);
        writeFully(fd, header, 0, CATALOG_HEADER_LENGTH, 0);
        fsyncSync(fd);
        actions.push(`archive migrated from format version ${version} to ${FORMAT_VERSION}`);
        version = FORMAT_VERSION;
      }
      const catalog = new Catalog(path, fd, opts.readOnly, nextId, opts.syncWrites ?? false, header, version);
      catalog.actions.push(...actions);
      catalog.adoptOrphanSlots();
      return catalog;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get nextRecordingId(): number {
    return this.nextId;
  }

  /**
   * Reads slot `id`; a bad checksum or field yields ok:false with CORRUPT_CATALOG, a slot that
   * was never written (all zeros, or past the end of the file) ok:false with `empty`.
   */
  read(id: number): CatalogSlot {
    if (!Number.isInteger(id) || id < 0 || id >= this.nextId) {
      return { recordingId: id, ok: false, error: new VcrError(ErrorCode.UNKNOWN_RECORDING, `unknown recording ${id}`) };
    }
    const n = readSync(this.fd, this.slot, 0, DESCRIPTOR_LENGTH, slotOffset(id));
    if (n === 0 || isZero(this.slot, n)) {
      return { recordingId: id, ok: false, empty: true, error: new VcrError(ErrorCode.CORRUPT_CATALOG, `catalog slot of recording ${id} was never written`) };
    }
    try {
      if (n !== DESCRIPTOR_LENGTH) throw new VcrError(ErrorCode.CORRUPT_CATALOG, 'slot is truncated');
      const d = decodeDescriptor(this.slot, 0, TemplateId.RECORDING_DESCRIPTOR, ErrorCode.CORRUPT_CATALOG);
      if (d.recordingId !== id) throw new VcrError(ErrorCode.CORRUPT_CATALOG, `slot holds recording ${d.recordingId}`);
      return { recordingId: id, ok: true, descriptor: d };
    } catch (err) {
      const e = err instanceof VcrError ? err : new VcrError(ErrorCode.CORRUPT_CATALOG, String(err));
      return {
        recordingId: id,
        ok: false,
        error: new VcrError(ErrorCode.CORRUPT_CATALOG, `catalog descriptor of recording ${id} (offset ${slotOffset(id)}): ${e.message}`),
      };
    }
  }

  /** Reserves the next dense id (the slot is written by `write`). */
  allocate(): number {
    this.requireWritable();
    const id = this.nextId;
    this.nextId++;
    return id;
  }

  /** Gives back the id `allocate` just returned when its recording could not be created. */
  unallocate(id: number): void {
    if (id === this.nextId - 1) this.nextId = id;
  }

  /** Makes sure no id below `n` is handed out again (files of those ids exist on disk). */
  reserveBelow(n: number): void {
    if (n <= this.nextId) return;
    this.nextId = n;
    if (this.readOnly) return;
    try {
      this.writeNextId();
      if (this.syncWrites) fsyncSync(this.fd);
    } catch (err) {
      throw storageError(err, `cannot write ${this.path}`);
    }
  }

  write(d: RecordingDescriptor): void {
    this.requireWritable();
    encodeDescriptor(d, this.slot, 0, TemplateId.RECORDING_DESCRIPTOR);
    try {
      writeFully(this.fd, this.slot, 0, DESCRIPTOR_LENGTH, slotOffset(d.recordingId));
      if (d.recordingId >= this.nextId) this.nextId = d.recordingId + 1;
      this.writeNextId();
      if (this.syncWrites) fsyncSync(this.fd);
    } catch (err) {
      throw storageError(err, `cannot write ${this.path}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private writeNextId(): void {
    this.headerEncoder.nextRecordingId(this.nextId);
    writeFully(this.fd, this.header, CatalogHeaderOffset.NEXT_RECORDING_ID, 8, CatalogHeaderOffset.NEXT_RECORDING_ID);
  }

  /** A crash between writing a slot and bumping nextRecordingId leaves a valid slot past it. */
  private adoptOrphanSlots(): void {
    const size = fstatSync(this.fd).size;
    while (slotOffset(this.nextId) + DESCRIPTOR_LENGTH <= size) {
      const n = readSync(this.fd, this.slot, 0, DESCRIPTOR_LENGTH, slotOffset(this.nextId));
      if (n !== DESCRIPTOR_LENGTH) break;
      try {
        decodeDescriptor(this.slot, 0, TemplateId.RECORDING_DESCRIPTOR, ErrorCode.CORRUPT_CATALOG);
      } catch {
        break;
      }
      this.nextId++;
      if (!this.readOnly) this.writeNextId();
    }
  }

  private requireWritable(): void {
    if (this.readOnly) throw new VcrError(ErrorCode.NOT_ALLOWED, 'catalog is open read-only');
  }
}

export function slotOffset(id: number): number {
  return CATALOG_HEADER_LENGTH + id * DESCRIPTOR_LENGTH;
}

function encodeHeader(header: Buffer, nextId: number): void {
  header.fill(0);
  new CatalogHeaderEncoder()
    .wrapAndApplyHeader(header, 0, new MessageHeaderEncoder())
    .magic(CATALOG_MAGIC)
    .formatVersion(FORMAT_VERSION)
    .headerLength(CATALOG_HEADER_LENGTH)
    .descriptorLength(DESCRIPTOR_LENGTH)
    .reserved(0)
    .nextRecordingId(nextId);
}

function createCatalogFile(path: string): void {
  const header = Buffer.alloc(CATALOG_HEADER_LENGTH);
  encodeHeader(header, 0);
  let fd = -1;
  try {
    fd = openSync(path, 'wx');
    writeFully(fd, header, 0, header.length, 0);
    fsyncSync(fd);
  } catch (err) {
    throw storageError(err, `cannot create ${path}`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function isZero(b: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[i] !== 0) return false;
  return true;
}

/** Whole or partial slots in a catalog file of `size` bytes. */
function slotsIn(size: number): number {
  return Math.max(0, Math.ceil((size - CATALOG_HEADER_LENGTH) / DESCRIPTOR_LENGTH));
}

/** Slots past nextRecordingId that open would adopt (written, header not yet bumped). */
function adoptableSlots(size: number, nextId: number): number {
  return Math.max(nextId, slotsIn(size));
}

/**
 * Reads the header: the version is refused when this engine does not read it; anything else
 * wrong makes the header `damaged` (rebuilt by a writable open), never the archive unreadable.
 */
function checkHeader(h: Buffer, n: number, path: string): { nextId: number; version: number; damaged?: string } {
  const damaged = (why: string) => ({ nextId: 0, version: FORMAT_VERSION, damaged: why });
  if (n < CATALOG_HEADER_LENGTH) return damaged('header is truncated');
  const mh = new MessageHeaderDecoder().wrap(h, 0);
  // the block is read at its version-1 size: a newer, longer block keeps these fields in place
  const d = new CatalogHeaderDecoder().wrap(h, MESSAGE_HEADER_LENGTH, CatalogHeaderDecoder.BLOCK_LENGTH, mh.version());
  if (d.magic() !== CATALOG_MAGIC) return damaged('bad magic');
  if (mh.templateId() !== TemplateId.CATALOG_HEADER || mh.schemaId() !== SCHEMA_ID) return damaged('bad header record');
  const version = d.formatVersion();
  if (version > FORMAT_VERSION) {
    throw new VcrError(
      ErrorCode.UNSUPPORTED_FORMAT_VERSION,
      `${path}: archive format version ${version} is not supported (this VCR reads versions ${MIN_FORMAT_VERSION} to ${FORMAT_VERSION})`,
    );
  }
  if (version < MIN_FORMAT_VERSION) return damaged(`bad format version ${version}`);
  if (d.headerLength() !== CATALOG_HEADER_LENGTH) return damaged('unexpected header length');
  if (d.descriptorLength() !== DESCRIPTOR_LENGTH) return damaged('unexpected descriptor length');
  let next = -1;
  try {
    next = d.nextRecordingId();
  } catch {
    // above 2^53-1: no double holds it (SbeUnsafeIntegerError)
  }
  if (next < 0 || next > 1 << 30) return damaged('bad nextRecordingId');
  return { nextId: next, version };
}
