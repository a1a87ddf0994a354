/**
 * holds.dat: quarantine holds and deletions, one Holds record (codecs/storage.xml). Small and
 * rarely changed, so it is rewritten whole: temp file, fsync, rename, fsync of the directory.
 * Schema version 2 adds each deletion's flags (external id, explicit holds) and the explicit
 * holds themselves; a version-1 file reads with no flags and no explicit holds. Schema version
 * 4 adds the recordings a deletion covers (flag recordingIds, group deletionRecordings); a
 * deletion of an older file has none and covers what its channel names when it runs.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  BooleanType,
  HoldsDecoder,
  HoldsDeletionHoldsEncoder,
  HoldsDeletionRecordingsEncoder,
  HoldsDeletionsEncoder,
  HoldsEncoder,
  HoldsQuarantinesEncoder,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
} from '../../codecs/generated/storage/index.js';
import { crc32c, crc32cInt32 } from '../util/crc32c.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { storageError, writeFully } from './io-errors.js';
import { HOLDS_CHECKSUM_OFFSET, HOLDS_FILE, MESSAGE_HEADER_LENGTH, SCHEMA_ID, TemplateId } from './layout.js';
import type { DeletionRecord, HoldInterval, QuarantineHold } from './types.js';

export interface HoldsData {
  nextId: number;
  quarantines: QuarantineHold[];
  deletions: DeletionRecord[];
}

const headerEncoder = new MessageHeaderEncoder();
const headerDecoder = new MessageHeaderDecoder();
const holdsEncoder = new HoldsEncoder();
const holdsDecoder = new HoldsDecoder();

/** CRC32C of the whole record with the checksum field read as zero. */
function holdsChecksum(b: Buffer): number {
  let c = crc32c(b, 0, HOLDS_CHECKSUM_OFFSET);
  c = crc32cInt32(0, c);
  const after = HOLDS_CHECKSUM_OFFSET + 4;
  return crc32c(b, after, b.length - after, c);
}

function encodedSize(h: HoldsData): number {
  const Q = HoldsQuarantinesEncoder;
  const D = HoldsDeletionsEncoder;
  let size = MESSAGE_HEADER_LENGTH + HoldsEncoder.BLOCK_LENGTH + Q.HEADER_SIZE + D.HEADER_SIZE;
  for (const q of h.quarantines) size += Q.BLOCK_LENGTH + Q.channelHeaderLength() + Buffer.byteLength(q.channel ?? '');
  for (const d of h.deletions) size += D.BLOCK_LENGTH + D.channelHeaderLength() + Buffer.byteLength(d.channel ?? '');
  const H = HoldsDeletionHoldsEncoder;
  size += H.HEADER_SIZE;
  for (const d of h.deletions) for (const x of d.holds ?? []) size += H.BLOCK_LENGTH + H.channelHeaderLength() + Buffer.byteLength(x.channel ?? '');
  const R = HoldsDeletionRecordingsEncoder;
  size += R.HEADER_SIZE;
  for (const d of h.deletions) size += R.BLOCK_LENGTH * (d.recordings?.length ?? 0);
  return size;
}

export function encodeHolds(h: HoldsData): Buffer {
  const b = Buffer.alloc(encodedSize(h));
  const e = holdsEncoder.wrapAndApplyHeader(b, 0, headerEncoder).checksum(0).reserved(0).nextId(h.nextId);
  const qs = e.quarantinesCount(h.quarantines.length);
  for (const q of h.quarantines) {
    qs.next()
      .holdId(q.id)
      .fromUtcNs(q.fromUtcNs)
      .toUtcNs(q.toUtcNs)
      .allChannels(q.channel === undefined ? BooleanType.TRUE : BooleanType.FALSE)
      .channel(q.channel ?? '');
  }
  const ds = e.deletionsCount(h.deletions.length);
  for (const d of h.deletions) {
    const row = ds
      .next()
      .deletionId(d.id)
      .fromUtcNs(d.fromUtcNs)
      .toUtcNs(d.toUtcNs)
      .framesDeleted(d.framesDeleted)
      .bytesReclaimed(d.bytesReclaimed)
      .allChannels(d.channel === undefined ? BooleanType.TRUE : BooleanType.FALSE);
    row
      .flags()
      .clear()
      .externalId(d.external === true)
      .explicitHolds(d.holds !== undefined)
      .recordingIds(d.recordings !== undefined);
    row.channel(d.channel ?? '');
  }
  const explicit = h.deletions.flatMap((d, i) => (d.holds ?? []).map((x) => [i, x] as const));
  const hs = e.deletionHoldsCount(explicit.length);
  for (const [i, x] of explicit) {
    hs.next()
      .deletionIndex(BigInt(i))
      .fromUtcNs(x.fromUtcNs)
      .toUtcNs(x.toUtcNs)
      .allChannels(x.channel === undefined ? BooleanType.TRUE : BooleanType.FALSE)
      .channel(x.channel ?? '');
  }
  const covered = h.deletions.flatMap((d, i) => (d.recordings ?? []).map((id) => [i, id] as const));
  const rs = e.deletionRecordingsCount(covered.length);
  for (const [i, id] of covered) rs.next().deletionIndex(BigInt(i)).recordingId(id);
  e.checksum(holdsChecksum(b));
  return b;
}

export function decodeHolds(b: Buffer): HoldsData {
  const bad = (why: string): never => {
    throw new VcrError(ErrorCode.CORRUPT_METADATA, `${HOLDS_FILE}: ${why}`);
  };
  if (b.length < MESSAGE_HEADER_LENGTH + HoldsEncoder.BLOCK_LENGTH + HoldsQuarantinesEncoder.HEADER_SIZE + HoldsDeletionsEncoder.HEADER_SIZE) bad('truncated');
  const mh = headerDecoder.wrap(b, 0);
  if (mh.templateId() !== TemplateId.HOLDS || mh.schemaId() !== SCHEMA_ID) bad('bad header record');
  const blockLength = mh.blockLength();
  const version = mh.version();
  // the checksum and nextId are read at their version-1 places before trusting blockLength
  const h = holdsDecoder.wrap(b, MESSAGE_HEADER_LENGTH, HoldsDecoder.BLOCK_LENGTH, version);
  if (holdsChecksum(b) !== h.checksum()) bad('checksum mismatch');
  const out: HoldsData = { nextId: h.nextId(), quarantines: [], deletions: [] };
  try {
    h.wrap(b, MESSAGE_HEADER_LENGTH, blockLength, version);
    const qs = h.quarantines();
    while (qs.hasNext()) {
      qs.next();
      const all = qs.allChannels() === BooleanType.TRUE;
      const q: QuarantineHold = { id: qs.holdId(), fromUtcNs: qs.fromUtcNs(), toUtcNs: qs.toUtcNs() };
      const ch = qs.channel();
      if (!all) q.channel = ch;
      out.quarantines.push(q);
    }
    const ds = h.deletions();
    while (ds.hasNext()) {
      ds.next();
      const all = ds.allChannels() === BooleanType.TRUE;
      const d: DeletionRecord = {
        id: ds.deletionId(),
        fromUtcNs: ds.fromUtcNs(),
        toUtcNs: ds.toUtcNs(),
        framesDeleted: ds.framesDeleted(),
        bytesReclaimed: ds.bytesReclaimed(),
      };
      const flags = ds.flags();
      if (flags?.externalId()) d.external = true;
      if (flags?.explicitHolds()) d.holds = [];
      if (flags?.recordingIds()) d.recordings = [];
      const ch = ds.channel();
      if (!all) d.channel = ch;
      out.deletions.push(d);
    }
    const hs = h.deletionHolds();
    while (hs.hasNext()) {
      hs.next();
      const all = hs.allChannels() === BooleanType.TRUE;
      const x: HoldInterval = { fromUtcNs: hs.fromUtcNs(), toUtcNs: hs.toUtcNs() };
      const ch = hs.channel() ?? '';
      if (!all) x.channel = ch;
      const i = Number(hs.deletionIndex());
      const owner = out.deletions[i];
      if (!owner?.holds) bad(`explicit hold for deletion ${i}, which has none`);
      owner!.holds!.push(x);
    }
    const rs = h.deletionRecordings();
    while (rs.hasNext()) {
      rs.next();
      const i = Number(rs.deletionIndex());
      const owner = out.deletions[i];
      if (!owner?.recordings) bad(`recording id for deletion ${i}, which names none`);
      owner!.recordings!.push(rs.recordingId());
    }
  } catch (err) {
    if (err instanceof RangeError) bad('truncated');
    throw err;
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
