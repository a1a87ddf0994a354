/**
 * The options of a Connection, their defaults and their checks (errors name the option), in
 * one place so a TransportServer or Reconnector refuses bad options when it is built rather
 * than on its first connection.
 */
import { ErrorCode, VcrError } from '../util/errors.js';
import { DEFAULT_MAX_FRAME_LENGTH, MIN_PAYLOAD } from './frame-decoder.js';
import { DEFAULT_BATCH_BYTES } from './send-buffer.js';

export interface ConnectionOptions {
  /** largest frame payload accepted and sent, default 16 MiB */
  maxFrameLength?: number;
  /** outbound bytes buffered in user space above which `writable` is false, default 4 MiB */
  highWaterMark?: number;
  /** `onDrain` fires when buffered bytes fall to this, default highWaterMark / 2 */
  lowWaterMark?: number;
  /** inbound bytes queued above which the socket is paused, default 4 MiB */
  maxInboundBytes?: number;
  /** staged bytes that trigger a socket write, default 64 KiB */
  batchBytes?: number;
  /** how long close() waits for buffered bytes to reach the peer before destroying the socket, default 5,000 ms */
  lingerMs?: number;
  /** called (from a socket callback) when buffered bytes fall to the low-water mark after `writable` was false */
  onDrain?: () => void;
  /**
   * called (from a socket callback) after frames were queued or the connection closed, so an
   * owner whose agent parks when idle can wake it (e.g. AgentRunner.wake) instead of polling on a timer; it must only
   * signal, not poll
   */
  onReceive?: () => void;
}

export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
export const DEFAULT_MAX_INBOUND_BYTES = 4 * 1024 * 1024;
export const DEFAULT_LINGER_MS = 5000;

export type ResolvedConnectionOptions = Required<Omit<ConnectionOptions, 'onDrain' | 'onReceive'>>;

/** Fills in defaults and checks the options (INVALID_ARGUMENT naming the bad one). */
export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
  if (!Number.isInteger(maxFrameLength) || maxFrameLength < MIN_PAYLOAD || maxFrameLength > 0xffff_ffff) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxFrameLength ${maxFrameLength} must be an integer from ${MIN_PAYLOAD} to 4294967295`);
  }
  const highWaterMark = positive(options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, 'highWaterMark');
  const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
  if (!(lowWaterMark >= 0 && lowWaterMark < highWaterMark)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `lowWaterMark ${lowWaterMark} must be from 0 to below highWaterMark ${highWaterMark}`);
  }
  return {
    maxFrameLength,
    highWaterMark,
    lowWaterMark,
    maxInboundBytes: positive(options.maxInboundBytes ?? DEFAULT_MAX_INBOUND_BYTES, 'maxInboundBytes'),
    batchBytes: positive(options.batchBytes ?? DEFAULT_BATCH_BYTES, 'batchBytes'),
    lingerMs: positive(options.lingerMs ?? DEFAULT_LINGER_MS, 'lingerMs'),
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${name} ${value} must be a positive number`);
  return value;
}

