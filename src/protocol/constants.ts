/**
 * Constants of the control protocol (docs/PROTOCOL.md) that the client library and the
 * archiver both rely on, in one module so the two sides cannot drift apart. Schema values
 * (ids, version, header length, null values, notification bits) come from the codecs
 * generated from codecs/control.xml; the rest are limits the protocol states. Imports only
 * codecs/generated (one file each: the CLI loads what it uses) and src/util.
 */
import { NotificationMaskDecoder } from '../../codecs/generated/control/NotificationMaskDecoder.js';
import { INT64_NULL_NUMBER } from '../../codecs/generated/SbeRuntime.js';
import { HEADER_LENGTH, SCHEMA_ID, SCHEMA_VERSION } from '../../codecs/generated/control/SbeSchema.js';
import { TimeReplayRequestDecoder } from '../../codecs/generated/control/TimeReplayRequestDecoder.js';

/** Schema id of every control message (101). */
export const CONTROL_SCHEMA_ID = SCHEMA_ID;
/** The control schema version this build speaks; a peer's newer version is refused. */
export const CONTROL_SCHEMA_VERSION = SCHEMA_VERSION;
/** Bytes of the SBE message header in front of every control message. */
export const CONTROL_HEADER_LENGTH = HEADER_LENGTH;

/** Every control message, in either direction, stays under this many bytes (one datagram). */
export const MAX_MESSAGE = 60_000;

/** The null of optional id fields (optionalId_t, jsType number): "none given". */
export const NULL_ID: number = INT64_NULL_NUMBER;
/** The null of optional time fields (optionalTime_t, bigint ns): an unbounded interval end. */
export const NULL_TIME: bigint = TimeReplayRequestDecoder.fromUtcNsNullValue();

/** Notification kinds: the bits of the NotificationMask set a session subscribes with. */
export const NotificationKind = NotificationMaskDecoder.CHOICE_MASKS;
export type NotificationKindName = keyof typeof NotificationKind;
/** Every notification kind: the only bits a subscription may set. */
export const ALL_NOTIFICATIONS: number = Object.values(NotificationKind).reduce((all: number, bit: number) => all | bit, 0);

/** Aliases a StartRecordingRequest may carry. */
export const MAX_ALIASES = 32;
/** Channels one TimeReplayRequest may merge. */
export const MAX_REPLAY_CHANNELS = 256;
/** Most buckets an EventRatesRequest may ask for (an EventRates of 2048 buckets is ~33 KB). */
export const MAX_RATE_BUCKETS = 2048;
/** Keep-alive timeout when a ConnectRequest gives 0 (the archiver's default session timeout). */
export const DEFAULT_KEEPALIVE_MS = 10_000;
/** The longest keep-alive timeout a ConnectRequest may ask for. */
export const MAX_KEEPALIVE_MS = 86_400_000;
/** Error texts (responses, notifications) are cut to this many characters. */
export const MAX_ERROR_TEXT = 1000;
