/**
 * Stable error codes. The numeric value is what travels on the wire (ControlResponse.code
 * and ErrorNotification.code in codecs/control.xml, whose ErrorCode enum must list the same
 * names and values: test/util/errors.test.ts pins that) and what tests assert; the name is
 * what people and logs see. Never renumber; only append.
 */
export const ErrorCode = {
  OK: 0,
  GENERIC: 1,
  // protocol
  MALFORMED_MESSAGE: 10,
  UNKNOWN_TEMPLATE: 11,
  UNSUPPORTED_VERSION: 12,
  UNKNOWN_SESSION: 13,
  NOT_ALLOWED: 14,
  REQUEST_TOO_LARGE: 15,
  TIMEOUT: 16,
  INVALID_ARGUMENT: 17,
  /** a request named a control session from an address other than the one that opened it */
  SESSION_ADDRESS_MISMATCH: 18,
  /** a correlationId was reused for a different request */
  CORRELATION_REUSED: 19,
  // catalog / recordings
  UNKNOWN_RECORDING: 20,
  UNKNOWN_CHANNEL: 21,
  CHANNEL_ALREADY_RECORDING: 22,
  RECORDING_ACTIVE: 23,
  INVALID_POSITION: 24,
  UNKNOWN_REPLAY: 25,
  MAX_RECORDINGS: 26,
  MAX_REPLAYS: 27,
  INVALID_SOURCE: 28,
  QUARANTINED: 29,
  // storage
  STORAGE_FULL: 40,
  STORAGE_UNWRITABLE: 41,
  CORRUPT_CATALOG: 42,
  CORRUPT_SEGMENT: 43,
  CORRUPT_METADATA: 44,
  CORRUPT_INDEX: 45,
  ARCHIVE_LOCKED: 46,
  UNSUPPORTED_FORMAT_VERSION: 47,
  IO_ERROR: 48,
  EVENT_TOO_LARGE: 49,
  /** a segment file is shorter than its recording's segment length */
  SEGMENT_TRUNCATED: 50,
  /** a segment file the metadata says is here is not (and no tombstone or away marker explains it) */
  SEGMENT_MISSING: 51,
  /** the segment is held by other nodes of the cluster, not this one */
  SEGMENT_ELSEWHERE: 52,
  /** a segment copy's digest does not match the recorded one */
  DIGEST_MISMATCH: 53,
  /** writing command output (a file, stdout) failed */
  OUTPUT_FAILED: 54,
  // sources
  SOURCE_FAILED: 60,
  /** a socket address the archiver must bind (control endpoint, metrics port) is taken */
  ADDRESS_IN_USE: 61,
  // cluster
  CLUSTER_UNAVAILABLE: 80,
  /** the node has not finished rejoining (metadata, holds, deletions, digests) */
  NOT_READY: 81,
  /** the node's lease or leadership expired: the action was based on stale state */
  FENCED: 82,
  /** another live process holds this node id */
  NODE_ID_IN_USE: 83,
  INVALID_CLUSTER_CONFIG: 84,
  UNKNOWN_NODE: 85,
  /** no live node holds a verified copy of the data */
  REPLICA_UNAVAILABLE: 86,
  /** a packet capture (pcap, pcapng) ends inside a header or record: what was read before is kept */
  CAPTURE_TRUNCATED: 87,
  /** a packet capture is not well-formed (bad magic, lying lengths, broken block structure) */
  CAPTURE_INVALID: 88,
  /** a well-formed capture this reader does not handle (link type, format version) */
  CAPTURE_UNSUPPORTED: 89,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const namesByValue = new Map<number, ErrorCodeName>(
  (Object.keys(ErrorCode) as ErrorCodeName[]).map((k) => [ErrorCode[k], k]),
);

export function errorCodeName(code: number): string {
  return namesByValue.get(code) ?? `CODE_${code}`;
}

/** An error with a stable code; the message names the problem for a person. */
export class VcrError extends Error {
  override name = 'VcrError';
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get codeName(): string {
    return errorCodeName(this.code);
  }
}

export function isVcrError(err: unknown, code?: ErrorCodeValue): err is VcrError {
  return err instanceof VcrError && (code === undefined || err.code === code);
}
