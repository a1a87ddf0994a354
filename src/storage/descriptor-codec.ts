/**
 * Encodes and decodes the 4096-byte RecordingDescriptor (catalog slot) and RecordingMetadata
 * (metadata file) records with the codecs generated from codecs/storage.xml. Both share one
 * layout; the template id picks the codec. The checksum is CRC32C over all 4096 bytes with
 * the checksum field zeroed, so a flipped byte anywhere in the slot, used or not, is detected.
 * The flyweights are module singletons (or owned by the caller for a mapped file), so encoding
 * and decoding allocate nothing but the decoded object and its strings.
 */
import {
  BooleanType,
  DescriptorState,
  MessageHeaderDecoder,
  MessageHeaderEncoder,
  RecordingDescriptorAliasesEncoder,
  RecordingDescriptorDecoder,
  RecordingDescriptorEncoder,
  RecordingLifecycle,
  RecordingMetadataDecoder,
  RecordingMetadataEncoder,
} from '../../codecs/generated/storage/index.js';
import { crc32c, crc32cInt32 } from '../util/crc32c.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { DESCRIPTOR_LENGTH, DescOffset, MESSAGE_HEADER_LENGTH, SCHEMA_ID, TemplateId } from './layout.js';
import type { DescriptorStateName, LifecycleName, RecordingDescriptor } from './types.js';

/** Either record's block encoder: same fields, same layout. */
export type DescriptorEncoder = RecordingDescriptorEncoder | RecordingMetadataEncoder;
type DescriptorDecoder = RecordingDescriptorDecoder | RecordingMetadataDecoder;

const stateToCode: Record<DescriptorStateName, DescriptorState> = {
  invalid: DescriptorState.INVALID,
  valid: DescriptorState.VALID,
  deleted: DescriptorState.DELETED,
};
const lifecycleToCode: Record<LifecycleName, RecordingLifecycle> = {
  recording: RecordingLifecycle.RECORDING,
  stopped: RecordingLifecycle.STOPPED,
  failed: RecordingLifecycle.FAILED,
};
const stateNames: Partial<Record<number, DescriptorStateName>> = {
  [DescriptorState.INVALID]: 'invalid',
  [DescriptorState.VALID]: 'valid',
  [DescriptorState.DELETED]: 'deleted',
};
const lifecycleNames: Partial<Record<number, LifecycleName>> = {
  [RecordingLifecycle.RECORDING]: 'recording',
  [RecordingLifecycle.STOPPED]: 'stopped',
  [RecordingLifecycle.FAILED]: 'failed',
};

const headerEncoder = new MessageHeaderEncoder();
const headerDecoder = new MessageHeaderDecoder();
const descriptorEncoder = new RecordingDescriptorEncoder();
const metadataEncoder = new RecordingMetadataEncoder();
const descriptorDecoder = new RecordingDescriptorDecoder();
const metadataDecoder = new RecordingMetadataDecoder();

export function descriptorChecksum(buf: Buffer, offset: number): number {
  let c = crc32c(buf, offset, DescOffset.CHECKSUM);
  c = crc32cInt32(0, c);
  const after = DescOffset.CHECKSUM + 4;
  return crc32c(buf, offset + after, DESCRIPTOR_LENGTH - after, c);
}

/** Bytes the variable part needs; encode refuses descriptors that do not fit the slot. */
export function varLength(d: Pick<RecordingDescriptor, 'channel' | 'aliases' | 'source'>): number {
  const E = RecordingDescriptorEncoder;
  const G = RecordingDescriptorAliasesEncoder;
  let n = G.HEADER_SIZE;
  for (const a of d.aliases) n += G.BLOCK_LENGTH + G.aliasHeaderLength() + Buffer.byteLength(a);
  return n + E.channelHeaderLength() + Buffer.byteLength(d.channel) + E.sourceHeaderLength() + Buffer.byteLength(d.source);
}

export function checkDescriptorFits(d: Pick<RecordingDescriptor, 'channel' | 'aliases' | 'source'>): void {
  if (DescOffset.VAR_START + varLength(d) > DESCRIPTOR_LENGTH || d.aliases.length > 65534) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'channel, aliases and source do not fit in a 4096-byte descriptor');
  }
}

/** Writes the whole 4096-byte record (zero-filled tail) and its checksum at `offset`. */
export function encodeDescriptor(d: RecordingDescriptor, buf: Buffer, offset: number, templateId: number): void {
  checkDescriptorFits(d);
  buf.fill(0, offset, offset + DESCRIPTOR_LENGTH);
  const e: DescriptorEncoder =
    templateId === TemplateId.RECORDING_METADATA
      ? metadataEncoder.wrapAndApplyHeader(buf, offset, headerEncoder)
      : descriptorEncoder.wrapAndApplyHeader(buf, offset, headerEncoder);
  e.state(stateToCode[d.state]);
  e.recordingId(d.recordingId);
  e.startPosition(d.startPosition);
  e.startUtcNs(d.startUtcNs);
  e.startMonoNs(d.startMonoNs);
  e.segmentLength(d.segmentLength);
  writeLiveFields(e, d);
  const aliases = e.aliasesCount(d.aliases.length);
  for (const a of d.aliases) aliases.next().alias(a);
  e.channel(d.channel);
  e.source(d.source);
  e.checksum(descriptorChecksum(buf, offset));
}

export type LiveFields = Pick<RecordingDescriptor, 'lifecycle' | 'failureCode' | 'stopPosition' | 'stopUtcNs' | 'stopMonoNs' | 'eventCount' | 'cleanStop'>;

/** Rewrites only the fields that change while recording (not the checksum). */
export function writeLiveFields(e: DescriptorEncoder, d: LiveFields): void {
  e.lifecycle(lifecycleToCode[d.lifecycle]);
  e.failureCode(d.failureCode);
  e.stopPosition(d.stopPosition);
  e.stopUtcNs(d.stopUtcNs);
  e.stopMonoNs(d.stopMonoNs);
  e.eventCount(d.eventCount);
  e.cleanStop(d.cleanStop ? BooleanType.TRUE : BooleanType.FALSE);
}

/**
 * A RecordingMetadata encoder wrapped once over a mapped metadata file: `update` rewrites the
 * live fields and the checksum in place, allocating nothing but the BigInts of the values.
 */
export class LiveMetadataWriter {
  private readonly encoder = new RecordingMetadataEncoder();

  constructor(private readonly map: Buffer) {
    this.encoder.wrap(map, MESSAGE_HEADER_LENGTH);
  }

  update(d: LiveFields): void {
    writeLiveFields(this.encoder, d);
    this.encoder.checksum(descriptorChecksum(this.map, 0));
  }
}

/**
 * Decodes and validates a record. Throws VcrError(corruptCode) naming the problem when the
 * checksum, header or any field is wrong; never reads outside the 4096 bytes.
 */
export function decodeDescriptor(buf: Buffer, offset: number, templateId: number, corruptCode: typeof ErrorCode.CORRUPT_CATALOG | typeof ErrorCode.CORRUPT_METADATA): RecordingDescriptor {
  const fail = (why: string): never => {
    throw new VcrError(corruptCode, why);
  };
  if (buf.length < offset + DESCRIPTOR_LENGTH) fail('record is truncated');
  // the checksum is the block's first field in every version: read it before trusting the header
  const stored = descriptorDecoder.wrap(buf, offset + MESSAGE_HEADER_LENGTH, RecordingDescriptorDecoder.BLOCK_LENGTH, 1).checksum();
  const actual = descriptorChecksum(buf, offset);
  if (stored !== actual) fail(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`);
  const h = headerDecoder.wrap(buf, offset);
  if (h.templateId() !== templateId || h.schemaId() !== SCHEMA_ID) fail('wrong record type');
  const version = h.version();
  if (version < 1) fail(`unsupported record version ${version}`);
  const blockLength = h.blockLength();
  if (blockLength < RecordingDescriptorDecoder.BLOCK_LENGTH) fail('block too short');
  if (MESSAGE_HEADER_LENGTH + blockLength > DESCRIPTOR_LENGTH) fail('variable data overruns the record');
  const dec: DescriptorDecoder = templateId === TemplateId.RECORDING_METADATA ? metadataDecoder : descriptorDecoder;
  dec.wrap(buf, offset + MESSAGE_HEADER_LENGTH, blockLength, version);
  const state = stateNames[dec.state()] ?? fail('unknown state');
  const lifecycle = lifecycleNames[dec.lifecycle()] ?? fail('unknown lifecycle');
  // the var part must stay inside the slot: check each length before reading it
  const end = DESCRIPTOR_LENGTH - MESSAGE_HEADER_LENGTH;
  const need = (n: number): void => {
    if (dec.encodedLength() + n > end) fail('variable data overruns the record');
  };
  const aliases: string[] = [];
  let channel = '';
  let source = '';
  try {
    need(RecordingDescriptorAliasesEncoder.HEADER_SIZE);
    const group = dec.aliases();
    while (group.hasNext()) {
      need(group.actingBlockLength());
      group.next();
      need(RecordingDescriptorAliasesEncoder.aliasHeaderLength());
      need(RecordingDescriptorAliasesEncoder.aliasHeaderLength() + group.aliasLength());
      aliases.push(group.alias());
    }
    need(RecordingDescriptorEncoder.channelHeaderLength());
    need(RecordingDescriptorEncoder.channelHeaderLength() + dec.channelLength());
    channel = dec.channel();
    need(RecordingDescriptorEncoder.sourceHeaderLength());
    need(RecordingDescriptorEncoder.sourceHeaderLength() + dec.sourceLength());
    source = dec.source();
  } catch (err) {
    if (err instanceof RangeError) fail('variable data overruns the record');
    throw err;
  }
  let ids: { recordingId: number; startPosition: number; stopPosition: number; eventCount: number };
  try {
    ids = { recordingId: dec.recordingId(), startPosition: dec.startPosition(), stopPosition: dec.stopPosition(), eventCount: dec.eventCount() };
  } catch {
    return fail('an id, position or count is above 2^53-1');
  }
  return {
    recordingId: ids.recordingId,
    state,
    lifecycle,
    failureCode: dec.failureCode(),
    startPosition: ids.startPosition,
    stopPosition: ids.stopPosition,
    startUtcNs: dec.startUtcNs(),
    stopUtcNs: dec.stopUtcNs(),
    startMonoNs: dec.startMonoNs(),
    stopMonoNs: dec.stopMonoNs(),
    eventCount: ids.eventCount,
    segmentLength: dec.segmentLength(),
    cleanStop: dec.cleanStop() === BooleanType.TRUE,
    channel,
    aliases,
    source,
  };
}
