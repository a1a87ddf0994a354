/**
 * Framed TCP transport: length-prefixed SBE messages over TCP with flow control both ways.
 * Used by the streamed replay to clients and by archiver-to-archiver replication; it depends
 * only on src/util, so the client library may use it. See docs/TRANSPORT.md.
 */
export { DEFAULT_MAX_FRAME_LENGTH, FRAME_PREFIX, FrameDecoder, MIN_PAYLOAD, type FrameRunSink } from './frame-decoder.js';
export { InboundQueue, type FrameHandler } from './inbound-queue.js';
export { DEFAULT_RECEIVE_SLAB_BYTES, ReceiveSlab } from './receive-slab.js';
export { DEFAULT_BATCH_BYTES, DEFAULT_SLAB_BYTES, SendBuffer } from './send-buffer.js';
export { Connection, ConnectionState } from './connection.js';
export { HEARTBEAT_LENGTH, Liveness, LivenessVerdict, isHeartbeat } from './liveness.js';
export {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_LINGER_MS,
  DEFAULT_MAX_INBOUND_BYTES,
  resolveConnectionOptions,
  type ConnectionOptions,
  type ResolvedConnectionOptions,
} from './connection-options.js';
export { TransportServer, TransportServerState, type TransportServerOptions } from './transport-server.js';
export { Reconnector, ReconnectorState, type ReconnectorOptions } from './reconnector.js';
