/**
 * Reads a whole capture file synchronously and hands out its datagrams: what `vcr import`
 * uses to count and report what a capture holds (the archiver's pcap source does the same
 * work asynchronously), and what tests use to look into a capture. A structural error ends
 * the scan: it is returned with the counts of what was read before it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { isVcrError, VcrError, ErrorCode } from '../util/errors.js';
import { CaptureStream } from './capture-stream.js';
import { newCaptureRecord } from './capture-record.js';
import type { CaptureFilter } from './capture-filter.js';
import { DatagramExtractor, type CaptureCounts } from './datagram-extractor.js';

export interface ScannedDatagram {
  utcNs: bigint;
  payload: Buffer;
  srcPort: number;
  dstPort: number;
  family: 4 | 6;
}

export interface CaptureScan {
  format: 'pcap' | 'pcapng' | undefined;
  counts: CaptureCounts;
  /** First and last packet times (any packet), if there were packets. */
  firstUtcNs: bigint | undefined;
  lastUtcNs: bigint | undefined;
  /** Why the scan ended early (CAPTURE_TRUNCATED, CAPTURE_INVALID, CAPTURE_UNSUPPORTED), if it did. */
  error: VcrError | undefined;
}

/** Scans `path`; calls onDatagram (with a copied payload) for each datagram when given. I/O errors throw. */
export function scanCaptureFile(path: string, filter: CaptureFilter = {}, onDatagram?: (d: ScannedDatagram) => void): CaptureScan {
  const stream = new CaptureStream();
  const extractor = new DatagramExtractor(filter);
  const rec = newCaptureRecord();
  const result: CaptureScan = { format: undefined, counts: extractor.counts, firstUtcNs: undefined, lastUtcNs: undefined, error: undefined };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new VcrError(ErrorCode.SOURCE_FAILED, `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      let r: ReturnType<CaptureStream['next']>;
      try {
        r = stream.next(rec);
      } catch (err) {
        if (!isVcrError(err)) throw err;
        result.error = err;
        break;
      }
      if (r === 'end') break;
      if (r === 'more') {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) stream.finish();
        else stream.push(Buffer.from(chunk.subarray(0, n)));
        continue;
      }
      result.firstUtcNs ??= rec.tsNs;
      result.lastUtcNs = rec.tsNs;
      if (extractor.accept(rec) && onDatagram) {
        const v = extractor.view;
        onDatagram({
          utcNs: extractor.utcNs,
          payload: Buffer.from(rec.data.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength)),
          srcPort: v.srcPort,
          dstPort: v.dstPort,
          family: v.family,
        });
      }
    }
  } finally {
    closeSync(fd);
  }
  result.format = stream.format;
  return result;
}
