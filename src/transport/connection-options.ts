/**
 * The options of a Connection, their defaults and their checks (errors name the option), in
 * one place so a TransportServer or Reconnector refuses bad options when it is built rather
 * than on its first connection.
 */
import { systemNanoClock, type NanoClock } from '../util/clock.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { DEFAULT_MAX_FRAME_LENGTH, MIN_PAYLOAD } from './frame-decoder.js';
import { DEFAULT_BATCH_BYTES } from './send-buffer.js';

export interface ConnectionOptions {
  /** largest frame payload accepted from the peer, default 16 MiB */
  maxFrameLength?: number;
  /**
   * largest frame payload this side sends, default maxFrameLength. A server that accepts
   * connections from anyone keeps maxFrameLength small (what a stranger may make it buffer)
   * while it sends large frames itself.
   */
  maxSendFrameLength?: number;
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
  /**
   * heartbeats (see Liveness): send a heartbeat after this long without writing anything, and
   * close a connection that received nothing for `heartbeatTimeoutMs`. Checked from the
   * owner's `doWork()`. Default 0: no heartbeats, no liveness check (both sides must agree to
   * use them; a heartbeat is never handed to `poll`, so a side without them just ignores them)
   */
  heartbeatIntervalMs?: number;
  /** with heartbeats: receiving nothing this long closes the connection (TIMEOUT), default 6 x heartbeatIntervalMs */
  heartbeatTimeoutMs?: number;
  /** the monotonic clock of the liveness check, default the system clock */
  clock?: NanoClock;
  /** called (from a socket callback) when buffered bytes fall to the low-water mark after `writable` was false */
  onDrain?: () => void;
  /** called (from the socket's connect callback) when a connection made by Connection.connect opens; it must only signal */
  onOpen?: () => void;
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

export type ResolvedConnectionOptions = Required<Omit<ConnectionOptions, 'onDrain' | 'onReceive' | 'onOpen'>>;

/** Fills in defaults and checks the options (INVALID_ARGUMENT naming the bad one). */
export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
  if (!Number.isInteger(maxFrameLength) || maxFrameLength < MIN_PAYLOAD || maxFrameLength > 0xffff_ffff) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxFrameLength ${maxFrameLength} must be an integer from ${MIN_PAYLOAD} to 4294967295`);
  }
  const maxSendFrameLength = options.maxSendFrameLength ?? maxFrameLength;
  if (!Number.isInteger(maxSendFrameLength) || maxSendFrameLength < MIN_PAYLOAD || maxSendFrameLength > 0xffff_ffff) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `maxSendFrameLength ${maxSendFrameLength} must be an integer from ${MIN_PAYLOAD} to 4294967295`);
  }
  const highWaterMark = positive(options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, 'highWaterMark');
  const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
  if (!(lowWaterMark >= 0 && lowWaterMark < highWaterMark)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `lowWaterMark ${lowWaterMark} must be from 0 to below highWaterMark ${highWaterMark}`);
  }
  return {
    maxFrameLength,
    maxSendFrameLength,
    highWaterMark,
    lowWaterMark,
    maxInboundBytes: positive(options.maxInboundBytes ?? DEFAULT_MAX_INBOUND_BYTES, 'maxInboundBytes'),
    batchBytes: positive(options.batchBytes ?? DEFAULT_BATCH_BYTES, 'batchBytes'),
    lingerMs: positive(options.lingerMs ?? DEFAULT_LINGER_MS, 'lingerMs'),
    ...heartbeats(options),
    clock: options.clock ?? systemNanoClock,
  };
}

function heartbeats(options: ConnectionOptions): { heartbeatIntervalMs: number; heartbeatTimeoutMs: number } {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 0;
  if (!Number.isFinite(heartbeatIntervalMs) || heartbeatIntervalMs < 0) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `heartbeatIntervalMs ${heartbeatIntervalMs} must be a number >= 0 (0: no heartbeats)`);
  }
  if (heartbeatIntervalMs === 0) {
    if (options.heartbeatTimeoutMs !== undefined) throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'heartbeatTimeoutMs needs heartbeatIntervalMs');
    return { heartbeatIntervalMs: 0, heartbeatTimeoutMs: 0 };
  }
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 6 * heartbeatIntervalMs;
  if (!Number.isFinite(heartbeatTimeoutMs) || heartbeatTimeoutMs <= heartbeatIntervalMs) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `heartbeatTimeoutMs ${heartbeatTimeoutMs} must be above heartbeatIntervalMs ${heartbeatIntervalMs}`);
  }
  return { heartbeatIntervalMs, heartbeatTimeoutMs };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${name} ${value} must be a positive number`);
  return value;
}

