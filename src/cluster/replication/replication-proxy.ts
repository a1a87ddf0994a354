/**
 * Outbound encoding of the replication messages (codecs/replication.xml, schema 104), each
 * straight into a connection's send buffer (claim/commit). Bulk data (Frames, deletion-log
 * parts) goes only while the connection is `writable` (`false` = not sent, try again later);
 * small control messages and answers go regardless (they must not be lost to back-pressure).
 * Every method returns whether the message was staged.
 */
import {
  AckEncoder,
  BooleanType,
  DeletionLogPartEncoder,
  FenceQueryEncoder,
  FenceReplyEncoder,
  FetchCode,
  FetchEndEncoder,
  FetchRequestEncoder,
  FindPositionReplyEncoder,
  FindPositionRequestEncoder,
  FramesEncoder,
  LivePositionReplyEncoder,
  LivePositionRequestEncoder,
  MessageHeaderEncoder,
  MirrorResumeEncoder,
  MirrorStartEncoder,
  SuspectEncoder,
} from '../../../codecs/generated/replication/index.js';
import type { Connection } from '../../transport/index.js';
import type { FenceReport } from '../repair-coordinator.js';

const HEADER = MessageHeaderEncoder.ENCODED_LENGTH;
/** var-data length prefix of the 32-bit data fields */
const DATA32 = 4;
/** most a short text field (error message) carries */
const MAX_TEXT = 1024;

export class ReplicationProxy {
  private readonly header = new MessageHeaderEncoder();
  private readonly mirrorStartEncoder = new MirrorStartEncoder();
  private readonly mirrorResumeEncoder = new MirrorResumeEncoder();
  private readonly framesEncoder = new FramesEncoder();
  private readonly ackEncoder = new AckEncoder();
  private readonly fetchRequestEncoder = new FetchRequestEncoder();
  private readonly fetchEndEncoder = new FetchEndEncoder();
  private readonly logPartEncoder = new DeletionLogPartEncoder();
  private readonly fenceQueryEncoder = new FenceQueryEncoder();
  private readonly fenceReplyEncoder = new FenceReplyEncoder();
  private readonly suspectEncoder = new SuspectEncoder();
  private readonly findRequestEncoder = new FindPositionRequestEncoder();
  private readonly findReplyEncoder = new FindPositionReplyEncoder();
  private readonly liveRequestEncoder = new LivePositionRequestEncoder();
  private readonly liveReplyEncoder = new LivePositionReplyEncoder();

  mirrorStart(c: Connection, recordingId: number, base: number): boolean {
    const at = c.claim(HEADER + MirrorStartEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.mirrorStartEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).recordingId(recordingId).base(base);
    c.commit(HEADER + MirrorStartEncoder.BLOCK_LENGTH);
    return true;
  }

  mirrorResume(c: Connection, recordingId: number, base: number, position: number, accept: boolean): boolean {
    const at = c.claim(HEADER + MirrorResumeEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.mirrorResumeEncoder
      .wrapAndApplyHeader(c.claimBuffer, at, this.header)
      .recordingId(recordingId)
      .base(base)
      .position(position)
      .accept(accept ? BooleanType.TRUE : BooleanType.FALSE);
    c.commit(HEADER + MirrorResumeEncoder.BLOCK_LENGTH);
    return true;
  }

  /** Whole frames `bytes[offset, offset + length)` starting at `position`; only while writable. */
  frames(c: Connection, requestId: number, recordingId: number, position: number, bytes: Buffer, offset = 0, length = bytes.length - offset): boolean {
    const at = c.tryClaim(HEADER + FramesEncoder.BLOCK_LENGTH + DATA32 + length);
    if (at < 0) return false;
    const e = this.framesEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).recordingId(recordingId).position(position);
    e.frames(offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length));
    c.commit(HEADER + e.encodedLength());
    return true;
  }

  ack(c: Connection, recordingId: number, position: number, utcNs: bigint): boolean {
    const at = c.claim(HEADER + AckEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.ackEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).recordingId(recordingId).position(position).utcNs(utcNs);
    c.commit(HEADER + AckEncoder.BLOCK_LENGTH);
    return true;
  }

  fetchRequest(c: Connection, r: { requestId: number; recordingId: number; base: number; position: number; toPosition: number; withDeletionLog: boolean }): boolean {
    const at = c.claim(HEADER + FetchRequestEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.fetchRequestEncoder
      .wrapAndApplyHeader(c.claimBuffer, at, this.header)
      .requestId(r.requestId)
      .recordingId(r.recordingId)
      .base(r.base)
      .position(r.position)
      .toPosition(r.toPosition)
      .withDeletionLog(r.withDeletionLog ? BooleanType.TRUE : BooleanType.FALSE);
    c.commit(HEADER + FetchRequestEncoder.BLOCK_LENGTH);
    return true;
  }

  /** A piece of a deletion log ahead of FetchEnd; only while writable. */
  deletionLogPart(c: Connection, requestId: number, bytes: Uint8Array): boolean {
    const at = c.tryClaim(HEADER + DeletionLogPartEncoder.BLOCK_LENGTH + DATA32 + bytes.length);
    if (at < 0) return false;
    const e = this.logPartEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).deletionLog(bytes);
    c.commit(HEADER + e.encodedLength());
    return true;
  }

  fetchEnd(c: Connection, requestId: number, code: FetchCode, position: number, deletionLog: Uint8Array = EMPTY, message = ''): boolean {
    const text = clip(message);
    const at = c.claim(HEADER + FetchEndEncoder.BLOCK_LENGTH + DATA32 + deletionLog.length + 2 + Buffer.byteLength(text));
    if (at < 0) return false;
    const e = this.fetchEndEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).code(code).position(position).deletionLog(deletionLog).message(text);
    c.commit(HEADER + e.encodedLength());
    return true;
  }

  fenceQuery(c: Connection, requestId: number, recordingId: number, revision: number): boolean {
    const at = c.claim(HEADER + FenceQueryEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.fenceQueryEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).recordingId(recordingId).revision(revision);
    c.commit(HEADER + FenceQueryEncoder.BLOCK_LENGTH);
    return true;
  }

  fenceReply(c: Connection, requestId: number, recordingId: number, code: FetchCode, segments: FenceReport['segments'], message = ''): boolean {
    const text = clip(message);
    const digestBytes = segments.reduce((n, s) => n + 2 + Buffer.byteLength(s.digest), 0);
    const max = HEADER + FenceReplyEncoder.BLOCK_LENGTH + 4 + segments.length * 41 + digestBytes + 2 + Buffer.byteLength(text);
    const at = c.claim(max);
    if (at < 0) return false;
    const e = this.fenceReplyEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).recordingId(recordingId).code(code);
    const g = e.segmentsCount(segments.length);
    for (const s of segments) {
      g.next()
        .base(s.base)
        .end(s.end)
        .frames(s.frames)
        .firstUtcNs(s.firstUtcNs)
        .lastUtcNs(s.lastUtcNs)
        .complete(s.complete ? BooleanType.TRUE : BooleanType.FALSE)
        .digest(s.digest);
    }
    e.message(text);
    c.commit(HEADER + e.encodedLength());
    return true;
  }

  suspect(c: Connection, recordingId: number, base: number): boolean {
    const at = c.claim(HEADER + SuspectEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.suspectEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).recordingId(recordingId).base(base);
    c.commit(HEADER + SuspectEncoder.BLOCK_LENGTH);
    return true;
  }

  findPositionRequest(c: Connection, requestId: number, recordingId: number, base: number, utcNs: bigint): boolean {
    const at = c.claim(HEADER + FindPositionRequestEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.findRequestEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).recordingId(recordingId).base(base).utcNs(utcNs);
    c.commit(HEADER + FindPositionRequestEncoder.BLOCK_LENGTH);
    return true;
  }

  findPositionReply(c: Connection, requestId: number, code: FetchCode, position: number): boolean {
    const at = c.claim(HEADER + FindPositionReplyEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.findReplyEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).code(code).position(position);
    c.commit(HEADER + FindPositionReplyEncoder.BLOCK_LENGTH);
    return true;
  }

  livePositionRequest(c: Connection, requestId: number, recordingId: number): boolean {
    const at = c.claim(HEADER + LivePositionRequestEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.liveRequestEncoder.wrapAndApplyHeader(c.claimBuffer, at, this.header).requestId(requestId).recordingId(recordingId);
    c.commit(HEADER + LivePositionRequestEncoder.BLOCK_LENGTH);
    return true;
  }

  livePositionReply(c: Connection, requestId: number, code: FetchCode, position: number, live: boolean): boolean {
    const at = c.claim(HEADER + LivePositionReplyEncoder.BLOCK_LENGTH);
    if (at < 0) return false;
    this.liveReplyEncoder
      .wrapAndApplyHeader(c.claimBuffer, at, this.header)
      .requestId(requestId)
      .code(code)
      .position(position)
      .live(live ? BooleanType.TRUE : BooleanType.FALSE);
    c.commit(HEADER + LivePositionReplyEncoder.BLOCK_LENGTH);
    return true;
  }
}

const EMPTY = new Uint8Array(0);

function clip(message: string): string {
  if (Buffer.byteLength(message) <= MAX_TEXT) return message;
  return Buffer.from(message).subarray(0, MAX_TEXT).toString('utf8').replace(/\uFFFD+$/, '');
}
