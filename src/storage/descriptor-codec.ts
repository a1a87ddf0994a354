/**
 * Encodes and decodes the 4096-byte RecordingDescriptor (catalog slot) and RecordingMetadata
 * (metadata file) records. Both share one layout (codecs/storage.xml); the template id tells
 * them apart. The checksum is CRC32C over all 4096 bytes with the checksum field zeroed, so a
 * flipped byte anywhere in the slot, used or not, is detected.
 */
import { crc32c } from '../util/crc32c.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import {
  DESCRIPTOR_BLOCK_LENGTH,
  DESCRIPTOR_LENGTH,
  DescOffset,
  DescriptorState,
  Lifecycle,
  SCHEMA_ID,
  writeMessageHeader,
} from './layout.js';
import type { DescriptorStateName, LifecycleName, RecordingDescriptor } from './types.js';

const stateToByte: Record<DescriptorStateName, number> = {
  invalid: DescriptorState.INVALID,
  valid: DescriptorState.VALID,
  deleted: DescriptorState.DELETED,
};
const lifecycleToByte: Record<LifecycleName, number> = {
  recording: Lifecycle.RECORDING,
  stopped: Lifecycle.STOPPED,
  failed: Lifecycle.FAILED,
};
const ZERO4 = Buffer.alloc(4);

export function descriptorChecksum(buf: Buffer, offset: number): number {
  let c = crc32c(buf, offset, DescOffset.CHECKSUM);
  c = crc32c(ZERO4, 0, 4, c);
  const after = DescOffset.CHECKSUM + 4;
  return crc32c(buf, offset + after, DESCRIPTOR_LENGTH - after, c);
}

/** Bytes the variable part needs; encode refuses descriptors that do not fit the slot. */
export function varLength(d: Pick<RecordingDescriptor, 'channel' | 'aliases' | 'source'>): number {
  let n = 4; // aliases group header
  for (const a of d.aliases) n += 2 + Buffer.byteLength(a);
  return n + 2 + Buffer.byteLength(d.channel) + 2 + Buffer.byteLength(d.source);
}

export function checkDescriptorFits(d: Pick<RecordingDescriptor, 'channel' | 'aliases' | 'source'>): void {
  if (DescOffset.VAR_START + varLength(d) > DESCRIPTOR_LENGTH || d.aliases.length > 65535) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'channel, aliases and source do not fit in a 4096-byte descriptor');
  }
}

function writeVar(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 2, 'utf8');
  buf.writeUInt16LE(n, at);
  return at + 2 + n;
}

/** Writes the whole 4096-byte record (zero-filled tail) and its checksum at `offset`. */
export function encodeDescriptor(d: RecordingDescriptor, buf: Buffer, offset: number, templateId: number): void {
  checkDescriptorFits(d);
  buf.fill(0, offset, offset + DESCRIPTOR_LENGTH);
  writeMessageHeader(buf, offset, DESCRIPTOR_BLOCK_LENGTH, templateId);
  encodeLiveFields(d, buf, offset);
  buf.writeUInt8(stateToByte[d.state], offset + DescOffset.STATE);
  buf.writeBigInt64LE(BigInt(d.recordingId), offset + DescOffset.RECORDING_ID);
  buf.writeBigInt64LE(BigInt(d.startPosition), offset + DescOffset.START_POSITION);
  buf.writeBigInt64LE(d.startUtcNs, offset + DescOffset.START_UTC);
  buf.writeBigInt64LE(d.startMonoNs, offset + DescOffset.START_MONO);
  buf.writeInt32LE(d.segmentLength, offset + DescOffset.SEGMENT_LENGTH);
  let at = offset + DescOffset.VAR_START;
  buf.writeUInt16LE(0, at); // group blockLength: elements hold only var data
  buf.writeUInt16LE(d.aliases.length, at + 2);
  at += 4;
  for (const a of d.aliases) at = writeVar(buf, at, a);
  at = writeVar(buf, at, d.channel);
  writeVar(buf, at, d.source);
  buf.writeUInt32LE(descriptorChecksum(buf, offset), offset + DescOffset.CHECKSUM);
}

/** Rewrites only the fields that change while recording, then the checksum. */
export function encodeLiveFields(
  d: Pick<RecordingDescriptor, 'lifecycle' | 'failureCode' | 'stopPosition' | 'stopUtcNs' | 'stopMonoNs' | 'eventCount' | 'cleanStop'>,
  buf: Buffer,
  offset: number,
  withChecksum = false,
): void {
  buf.writeUInt8(lifecycleToByte[d.lifecycle], offset + DescOffset.LIFECYCLE);
  buf.writeUInt16LE(d.failureCode, offset + DescOffset.FAILURE_CODE);
  buf.writeBigInt64LE(BigInt(d.stopPosition), offset + DescOffset.STOP_POSITION);
  buf.writeBigInt64LE(d.stopUtcNs, offset + DescOffset.STOP_UTC);
  buf.writeBigInt64LE(d.stopMonoNs, offset + DescOffset.STOP_MONO);
  buf.writeBigInt64LE(BigInt(d.eventCount), offset + DescOffset.EVENT_COUNT);
  buf.writeUInt8(d.cleanStop ? 1 : 0, offset + DescOffset.CLEAN_STOP);
  if (withChecksum) buf.writeUInt32LE(descriptorChecksum(buf, offset), offset + DescOffset.CHECKSUM);
}

const stateNames: Record<number, DescriptorStateName> = { 0: 'invalid', 1: 'valid', 2: 'deleted' };
const lifecycleNames: Record<number, LifecycleName> = { 1: 'recording', 2: 'stopped', 3: 'failed' };

/**
 * Decodes and validates a record. Throws VcrError(corruptCode) naming the problem when the
 * checksum, header or any field is wrong; never reads outside the 4096 bytes.
 */
export function decodeDescriptor(buf: Buffer, offset: number, templateId: number, corruptCode: typeof ErrorCode.CORRUPT_CATALOG | typeof ErrorCode.CORRUPT_METADATA): RecordingDescriptor {
  const fail = (why: string): never => {
    throw new VcrError(corruptCode, why);
  };
  if (buf.length < offset + DESCRIPTOR_LENGTH) fail('record is truncated');
  const stored = buf.readUInt32LE(offset + DescOffset.CHECKSUM);
  const actual = descriptorChecksum(buf, offset);
  if (stored !== actual) fail(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`);
  if (buf.readUInt16LE(offset + 2) !== templateId || buf.readUInt16LE(offset + 4) !== SCHEMA_ID) fail('wrong record type');
  const version = buf.readUInt16LE(offset + 6);
  if (version < 1) fail(`unsupported record version ${version}`);
  const blockLength = buf.readUInt16LE(offset);
  if (blockLength < DESCRIPTOR_BLOCK_LENGTH) fail('block too short');
  const state = stateNames[buf.readUInt8(offset + DescOffset.STATE)] ?? fail('unknown state');
  const lifecycle = lifecycleNames[buf.readUInt8(offset + DescOffset.LIFECYCLE)] ?? fail('unknown lifecycle');
  const end = offset + DESCRIPTOR_LENGTH;
  let at = offset + 8 + blockLength;
  const readVar = (): string => {
    if (at + 2 > end) fail('variable data overruns the record');
    const n = buf.readUInt16LE(at);
    if (at + 2 + n > end) fail('variable data overruns the record');
    const s = buf.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  if (at + 4 > end) fail('variable data overruns the record');
  const groupBlock = buf.readUInt16LE(at);
  const count = buf.readUInt16LE(at + 2);
  at += 4;
  const aliases: string[] = [];
  for (let i = 0; i < count; i++) {
    at += groupBlock;
    aliases.push(readVar());
  }
  const channel = readVar();
  const source = readVar();
  const num = (o: number): number => Number(buf.readBigInt64LE(offset + o));
  return {
    recordingId: num(DescOffset.RECORDING_ID),
    state,
    lifecycle,
    failureCode: buf.readUInt16LE(offset + DescOffset.FAILURE_CODE),
    startPosition: num(DescOffset.START_POSITION),
    stopPosition: num(DescOffset.STOP_POSITION),
    startUtcNs: buf.readBigInt64LE(offset + DescOffset.START_UTC),
    stopUtcNs: buf.readBigInt64LE(offset + DescOffset.STOP_UTC),
    startMonoNs: buf.readBigInt64LE(offset + DescOffset.START_MONO),
    stopMonoNs: buf.readBigInt64LE(offset + DescOffset.STOP_MONO),
    eventCount: num(DescOffset.EVENT_COUNT),
    segmentLength: buf.readInt32LE(offset + DescOffset.SEGMENT_LENGTH),
    cleanStop: buf.readUInt8(offset + DescOffset.CLEAN_STOP) === 1,
    channel,
    aliases,
    source,
  };
}
