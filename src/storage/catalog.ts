/**
 * catalog.dat: a 4096-byte header, then one 4096-byte descriptor per recording at
 * `headerLength + recordingId * 4096` (dead reckoning). Slots are read and written with
 * positional I/O; the catalog changes rarely (create, stop, recovery, failure), the live
 * fields go to each recording's metadata file instead.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync } from 'node:fs';
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
  SCHEMA_ID,
  TemplateId,
} from './layout.js';
import type { RecordingDescriptor } from './types.js';

export type CatalogSlot =
  | { recordingId: number; ok: true; descriptor: RecordingDescriptor }
  | { recordingId: number; ok: false; error: VcrError };

export class Catalog {
  private readonly slot = Buffer.alloc(DESCRIPTOR_LENGTH);
  /** The header record as read at open; nextRecordingId is encoded here and written alone. */
  private readonly headerEncoder = new CatalogHeaderEncoder();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly readOnly: boolean,
    private nextId: number,
    private readonly syncWrites: boolean,
    private readonly header: Buffer,
  ) {
    this.headerEncoder.wrap(header, MESSAGE_HEADER_LENGTH);
  }

  /** Opens (or, writable and absent, creates) the catalog of `dir`. */
  static open(dir: string, opts: { readOnly: boolean; syncWrites?: boolean }): Catalog {
    const path = join(dir, CATALOG_FILE);
    if (!existsSync(path)) {
      if (opts.readOnly) throw new VcrError(ErrorCode.CORRUPT_CATALOG, `no catalog in ${dir} (${CATALOG_FILE} is missing)`);
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
      const nextId = validateHeader(header, n, path);
      const catalog = new Catalog(path, fd, opts.readOnly, nextId, opts.syncWrites ?? false, header);
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

  /** Reads slot `id`; a bad checksum or field yields ok:false with CORRUPT_CATALOG. */
  read(id: number): CatalogSlot {
    if (!Number.isInteger(id) || id < 0 || id >= this.nextId) {
      return { recordingId: id, ok: false, error: new VcrError(ErrorCode.UNKNOWN_RECORDING, `unknown recording ${id}`) };
    }
    const n = readSync(this.fd, this.slot, 0, DESCRIPTOR_LENGTH, slotOffset(id));
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

function createCatalogFile(path: string): void {
  const header = Buffer.alloc(CATALOG_HEADER_LENGTH);
  new CatalogHeaderEncoder()
    .wrapAndApplyHeader(header, 0, new MessageHeaderEncoder())
    .magic(CATALOG_MAGIC)
    .formatVersion(FORMAT_VERSION)
    .headerLength(CATALOG_HEADER_LENGTH)
    .descriptorLength(DESCRIPTOR_LENGTH)
    .reserved(0)
    .nextRecordingId(0);
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

function validateHeader(h: Buffer, n: number, path: string): number {
  const bad = (why: string): never => {
    throw new VcrError(ErrorCode.CORRUPT_CATALOG, `${path}: ${why}`);
  };
  if (n < CATALOG_HEADER_LENGTH) bad('header is truncated');
  const mh = new MessageHeaderDecoder().wrap(h, 0);
  // the block is read at its version-1 size: a newer, longer block keeps these fields in place
  const d = new CatalogHeaderDecoder().wrap(h, MESSAGE_HEADER_LENGTH, CatalogHeaderDecoder.BLOCK_LENGTH, mh.version());
  if (d.magic() !== CATALOG_MAGIC) bad('not a VCR catalog (bad magic)');
  if (mh.templateId() !== TemplateId.CATALOG_HEADER || mh.schemaId() !== SCHEMA_ID) bad('bad header record');
  const version = d.formatVersion();
  if (version !== FORMAT_VERSION) {
    throw new VcrError(
      ErrorCode.UNSUPPORTED_FORMAT_VERSION,
      `${path}: archive format version ${version} is not supported (this VCR reads version ${FORMAT_VERSION})`,
    );
  }
  if (d.headerLength() !== CATALOG_HEADER_LENGTH) bad('unexpected header length');
  if (d.descriptorLength() !== DESCRIPTOR_LENGTH) bad('unexpected descriptor length');
  let next = -1;
  try {
    next = d.nextRecordingId();
  } catch {
    // above 2^53-1: no double holds it (SbeUnsafeIntegerError)
  }
  if (next < 0) bad('bad nextRecordingId');
  return next;
}
