/**
 * Raw frame listing for inspection (`vcr catalog dump`): every frame of a recording from a
 * position, whatever its type, with its CRC status; stops at the first unreadable frame.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { decodeSource, sourceLength, type EventSource } from '../util/source-address.js';
import { Catalog } from './catalog.js';
import { FrameStatus, checkFrame, frameStatusText } from './frame.js';
import { EventFrameHeaderDecoder } from '../../codecs/generated/storage/index.js';
import { FRAME_ALIGNMENT, FRAME_HEADER_LENGTH, FrameType, alignFrame, segmentFileName } from './layout.js';
import { readMetadata } from './metadata-file.js';
import { SegmentFiles } from './segment-files.js';
import type { RecordingDescriptor } from './types.js';

export interface DumpedFrame {
  recordingId: number;
  position: number;
  segment: string;
  offset: number;
  type: 'DATA' | 'PADDING' | 'DELETED' | 'INVALID';
  length: number;
  utcNs: bigint;
  monoNs: bigint;
  /** FrameFlags bits (layout.ts). */
  flags: number;
  crcOk: boolean;
  /** The payload (a DATA frame's source address trailer is not part of it). */
  payload: Buffer;
  /** The datagram's source address and port, when the frame recorded one. */
  source?: EventSource;
  problem?: string;
}

const header = new EventFrameHeaderDecoder();
const typeNames: Record<number, DumpedFrame['type']> = { [FrameType.DATA]: 'DATA', [FrameType.PADDING]: 'PADDING', [FrameType.DELETED]: 'DELETED' };

export function openDescriptors(dir: string): { descriptors: RecordingDescriptor[]; problems: { recordingId: number; message: string }[]; nextRecordingId: number } {
  const catalog = Catalog.open(dir, { readOnly: true });
  try {
    const descriptors: RecordingDescriptor[] = [];
    const problems: { recordingId: number; message: string }[] = [];
    for (let id = 0; id < catalog.nextRecordingId; id++) {
      const slot = catalog.read(id);
      let meta: RecordingDescriptor | undefined;
      try {
        meta = readMetadata(dir, id);
      } catch {
        meta = undefined;
      }
      if (!slot.ok && !meta) {
        problems.push({ recordingId: id, message: slot.error.message });
        continue;
      }
      const d = slot.ok ? slot.descriptor : meta!;
      if (meta && d.lifecycle === 'recording') Object.assign(d, { stopPosition: meta.stopPosition, stopUtcNs: meta.stopUtcNs, stopMonoNs: meta.stopMonoNs, eventCount: meta.eventCount, lifecycle: meta.lifecycle });
      descriptors.push(d);
    }
    return { descriptors, problems, nextRecordingId: catalog.nextRecordingId };
  } finally {
    catalog.close();
  }
}

export function* dumpFrames(dir: string, d: RecordingDescriptor, from?: number): Generator<DumpedFrame> {
  const files = new SegmentFiles(dir, d.recordingId, d.segmentLength);
  const segLen = d.segmentLength;
  let pos = from ?? d.startPosition;
  if (pos % FRAME_ALIGNMENT !== 0 || pos < d.startPosition) throw new VcrError(ErrorCode.INVALID_POSITION, `position ${pos} is not a frame position`);
  for (;;) {
    const base = files.baseOf(pos);
    const status = files.status(base);
    if (status === 'tombstone' || status === 'away') {
      pos = base + segLen;
      continue;
    }
    if (status !== 'present') return;
    const seg = files.map(base, false);
    let off = pos - base;
    while (segLen - off >= FRAME_HEADER_LENGTH) {
      const st = checkFrame(seg, off, segLen, true);
      if (st === FrameStatus.NOT_WRITTEN) return;
      const h = header.wrap(seg, off);
      const length = h.frameLength();
      const rawType = h.frameType();
      const structural = st === FrameStatus.OK || st === FrameStatus.BAD_CRC;
      const frame: DumpedFrame = {
        recordingId: d.recordingId,
        position: base + off,
        segment: segmentFileName(d.recordingId, base),
        offset: off,
        type: structural ? (typeNames[rawType] ?? 'INVALID') : 'INVALID',
        length,
        utcNs: h.utcNs(),
        monoNs: h.monoNs(),
        flags: h.flags(),
        crcOk: st === FrameStatus.OK,
        payload: Buffer.alloc(0),
      };
      if (structural && rawType === FrameType.DATA) {
        const sl = st === FrameStatus.OK || st === FrameStatus.BAD_CRC ? Math.max(0, sourceLength(frame.flags)) : 0;
        frame.payload = Buffer.from(seg.subarray(off + FRAME_HEADER_LENGTH, off + length - sl));
        const source = sl > 0 ? decodeSource(seg, off + length - sl, sl) : undefined;
        if (source) frame.source = source;
      }
      if (st !== FrameStatus.OK) frame.problem = frameStatusText(st);
      yield frame;
      if (!structural) return;
      off += alignFrame(length);
    }
    pos = base + segLen;
  }
}
