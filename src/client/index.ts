/** Public surface of the VCR client library. */
export { ArchiveClient, type ConnectOptions, type EventsOptions } from './ArchiveClient.js';
export { readChannelEvents, type ChannelEventsOptions } from './EventReader.js';
export { NotificationKind, ALL_NOTIFICATIONS, type Notification, type NotificationHandler } from './Notifications.js';
export { compareEvents, mergeEvents } from './MergedEventIterator.js';
export { readRecording, type ReadOptions, type ReadChunkRequest } from './EventReader.js';
export { parseEndpoint, type Endpoint } from './endpoint.js';
export type * from './types.js';
