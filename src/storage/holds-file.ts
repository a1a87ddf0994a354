/**
 * holds.dat: quarantine holds and deletions, one Holds record (codecs/storage.xml). Small and
 * rarely changed, so it is rewritten whole: temp file, fsync, rename, fsync of the directory.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../util/crc32c.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import { HOLDS_FILE, SCHEMA_ID, TemplateId, writeMessageHeader } from './layout.js';
import type { DeletionRecord, QuarantineHold } from './types.js';

export interface HoldsData {
  nextId: number;
  quarantines: QuarantineHold[];
  deletions: DeletionRecord[];
}

const BLOCK = 16;
const Q_BLOCK = 25;
const D_BLOCK = 41;

export function encodeHolds(h: HoldsData): Buffer {
  let size = 8 + BLOCK + 4 + 4;
  for (const q of h.quarantines) size += Q_BLOCK + 2 + Buffer.byteLength(q.channel ?? '');
  for (const d of h.deletions) size += D_BLOCK + 2 + Buffer.byteLength(d.channel ?? '');
  const b = Buffer.alloc(size);
  writeMessageHeader(b, 0, BLOCK, TemplateId.HOLDS);
  b.writeBigInt64LE(BigInt(h.nextId), 16);
  let at = 8 + BLOCK;
  const varStr = (s: string | undefined): void => {
    const n = b.write(s ?? '', at + 2, 'utf8');
    b.writeUInt16LE(n, at);
    at += 2 + n;
  };
  b.writeUInt16LE(Q_BLOCK, at);
  b.writeUInt16LE(h.quarantines.length, at + 2);
  at += 4;
  for (const q of h.quarantines) {
    b.writeBigInt64LE(BigInt(q.id), at);
    b.writeBigInt64LE(q.fromUtcNs, at + 8);
    b.writeBigInt64LE(q.toUtcNs, at + 16);
    b.writeUInt8(q.channel === undefined ? 1 : 0, at + 24);
    at += Q_BLOCK;
    varStr(q.channel);
  }
  b.writeUInt16LE(D_BLOCK, at);
  b.writeUInt16LE(h.deletions.length, at + 2);
  at += 4;
  for (const d of h.deletions) {
    b.writeBigInt64LE(BigInt(d.id), at);
    b.writeBigInt64LE(d.fromUtcNs, at + 8);
    b.writeBigInt64LE(d.toUtcNs, at + 16);
    b.writeBigInt64LE(BigInt(d.framesDeleted), at + 24);
    b.writeBigInt64LE(BigInt(d.bytesReclaimed), at + 32);
    b.writeUInt8(d.channel === undefined ? 1 : 0, at + 40);
    at += D_BLOCK;
    varStr(d.channel);
  }
  b.writeUInt32LE(crc32c(b, 0, b.length), 8); // checksum field is still zero here
  return b;
}

export function decodeHolds(b: Buffer): HoldsData {
  const bad = (why: string): never => {
    throw new VcrError(ErrorCode.CORRUPT_METADATA, `${HOLDS_FILE}: ${why}`);
  };
  if (b.length < 8 + BLOCK + 8) bad('truncated');
  if (b.readUInt16LE(2) !== TemplateId.HOLDS || b.readUInt16LE(4) !== SCHEMA_ID) bad('bad header record');
  const stored = b.readUInt32LE(8);
  const copy = Buffer.from(b);
  copy.writeUInt32LE(0, 8);
  if (crc32c(copy, 0, copy.length) !== stored) bad('checksum mismatch');
  let at = 8 + b.readUInt16LE(0);
  const need = (n: number): void => {
    if (at + n > b.length) bad('truncated');
  };
  const varStr = (): string => {
    need(2);
    const n = b.readUInt16LE(at);
    need(2 + n);
    const s = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  const out: HoldsData = { nextId: Number(b.readBigInt64LE(16)), quarantines: [], deletions: [] };
  need(4);
  let block = b.readUInt16LE(at);
  let count = b.readUInt16LE(at + 2);
  at += 4;
  for (let i = 0; i < count; i++) {
    need(block);
    const all = b.readUInt8(at + 24) === 1;
    const q: QuarantineHold = { id: Number(b.readBigInt64LE(at)), fromUtcNs: b.readBigInt64LE(at + 8), toUtcNs: b.readBigInt64LE(at + 16) };
    at += block;
    const ch = varStr();
    if (!all) q.channel = ch;
    out.quarantines.push(q);
  }
  need(4);
  block = b.readUInt16LE(at);
  count = b.readUInt16LE(at + 2);
  at += 4;
  for (let i = 0; i < count; i++) {
    need(block);
    const all = b.readUInt8(at + 40) === 1;
    const d: DeletionRecord = {
      id: Number(b.readBigInt64LE(at)),
      fromUtcNs: b.readBigInt64LE(at + 8),
      toUtcNs: b.readBigInt64LE(at + 16),
      framesDeleted: Number(b.readBigInt64LE(at + 24)),
      bytesReclaimed: Number(b.readBigInt64LE(at + 32)),
    };
    at += block;
    const ch = varStr();
    if (!all) d.channel = ch;
    out.deletions.push(d);
  }
  return out;
}

export function readHolds(dir: string): HoldsData {
  let b: Buffer;
  try {
    b = readFileSync(join(dir, HOLDS_FILE));
  } catch {
    return { nextId: 1, quarantines: [], deletions: [] };
  }
  return decodeHolds(b);
}

export function writeHolds(dir: string, h: HoldsData): void {
  const path = join(dir, HOLDS_FILE);
  const b = encodeHolds(h);
  let fd = -1;
  try {
    fd = openSync(`${path}.tmp`, 'w');
    writeFully(fd, b, 0, b.length, 0);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(`${path}.tmp`, path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    throw storageError(err, `cannot write ${path}`);
  }
}
