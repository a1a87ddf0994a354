/** Public surface of the VCR client library. */
export { ArchiveClient, type ConnectOptions, type EventsOptions } from './archive-client.js';
export { readChannelEvents, type ChannelEventsOptions } from './event-reader.js';
export { NotificationKind, ALL_NOTIFICATIONS, type Notification, type NotificationHandler } from './notifications.js';
export { compareEvents, mergeEvents } from './merged-event-iterator.js';
export { readRecording, type ReadOptions, type ReadChunkRequest } from './event-reader.js';
export { parseEndpoint, type Endpoint } from './endpoint.js';
export type * from './types.js';
