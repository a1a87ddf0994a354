/**
 * The one set of rules for what may be recorded: channel names and aliases, source URIs, and
 * which starts conflict with recordings that are active or already in the catalog. Both ways a
 * recording starts apply them: a StartRecordingRequest (request-handlers.ts) and a channel
 * listed in the config file (archiver-config.ts at load time, archiver.ts at start-up), so a
 * config can never start something the protocol would refuse, with the same error codes.
 */
import { quoteForMessage } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { matchesChannel } from './catalog-queries.js';

export const MAX_NAME_BYTES = 256;
export const MAX_ALIASES = 32;
export const MAX_SOURCE_BYTES = 4096;

/** What a start asks for. */
export interface ChannelSpec {
  channel: string;
  aliases: readonly string[];
  source: string;
}

/** A recording (active or in the catalog) as far as name conflicts go. */
export interface NamedRecording {
  readonly recordingId: number;
  readonly channel: string;
  readonly aliases: readonly string[];
}

/** A channel name or alias: 1-256 bytes of UTF-8, no whitespace, no control characters. */
export function checkName(name: string, what: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} must be 1 to ${MAX_NAME_BYTES} bytes, got ${bytes}`);
  }
  if (/[\u0000-\u001f\u007f\s]/.test(name)) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `${what} ${quoteForMessage(name)} contains whitespace or control characters`);
  }
}

/** The start's own fields: names, alias count, no name twice, source length. */
export function checkSpec(spec: ChannelSpec): void {
  checkName(spec.channel, 'channel');
  if (spec.aliases.length > MAX_ALIASES) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `at most ${MAX_ALIASES} aliases, got ${spec.aliases.length}`);
  }
  const seen = new Set<string>([spec.channel]);
  for (const a of spec.aliases) {
    checkName(a, 'alias');
    if (seen.has(a)) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `name ${quoteForMessage(a)} is given twice`);
    seen.add(a);
  }
  const bytes = Buffer.byteLength(spec.source);
  if (bytes === 0 || bytes > MAX_SOURCE_BYTES) {
    throw new VcrError(ErrorCode.INVALID_SOURCE, `source must be 1 to ${MAX_SOURCE_BYTES} bytes, got ${bytes}`);
  }
}

/** CHANNEL_ALREADY_RECORDING when any name of the start is a name of an active recording. */
export function checkNotRecording(spec: Pick<ChannelSpec, 'channel' | 'aliases'>, active: Iterable<NamedRecording>): void {
  const names = [spec.channel, ...spec.aliases];
  for (const r of active) {
    const n = names.find((x) => matchesChannel(r, x));
    if (n !== undefined) {
      const id = r.recordingId >= 0 ? `recording ${r.recordingId}` : 'starting';
      throw new VcrError(ErrorCode.CHANNEL_ALREADY_RECORDING, `channel ${quoteForMessage(r.channel)} is already recording as ${quoteForMessage(n)} (${id})`);
    }
  }
}

/**
 * INVALID_ARGUMENT when a name of the start belongs to another channel's recordings: names
 * resolve to one channel, so an alias cannot be taken over by a different primary name.
 */
export function checkNamesOwned(spec: Pick<ChannelSpec, 'channel' | 'aliases'>, recorded: Iterable<NamedRecording>): void {
  const names = [spec.channel, ...spec.aliases];
  for (const info of recorded) {
    if (info.channel === spec.channel) continue;
    const n = names.find((x) => matchesChannel(info, x));
    if (n !== undefined) {
      throw new VcrError(ErrorCode.INVALID_ARGUMENT, `name ${quoteForMessage(n)} already belongs to channel ${quoteForMessage(info.channel)}`);
    }
  }
}

/** Everything a start must pass, in the order the protocol has always checked it. */
export function checkStart(
  spec: ChannelSpec,
  active: readonly NamedRecording[],
  recorded: Iterable<NamedRecording>,
  maxRecordings: number,
): void {
  checkSpec(spec);
  checkNotRecording(spec, active);
  checkNamesOwned(spec, recorded);
  if (active.length >= maxRecordings) {
    throw new VcrError(ErrorCode.MAX_RECORDINGS, `${active.length} recordings are active (limit ${maxRecordings})`);
  }
}

/**
 * The config's `channels` list as one batch of starts: each entry passes checkSpec, and no
 * entry may record a name another entry records (the second start would be refused with
 * CHANNEL_ALREADY_RECORDING). Errors carry the entry's key.
 */
export function checkChannelList(entries: readonly ChannelSpec[], key: (i: number) => string): void {
  entries.forEach((e, i) => {
    try {
      checkSpec(e);
    } catch (err) {
      const v = err as VcrError;
      throw new VcrError(v.code, `config key '${key(i)}': ${v.message}`);
    }
    const names = [e.channel, ...e.aliases];
    for (let j = 0; j < i; j++) {
      const n = names.find((x) => matchesChannel(entries[j]!, x));
      if (n !== undefined) {
        throw new VcrError(
          ErrorCode.CHANNEL_ALREADY_RECORDING,
          `config key '${key(i)}': ${quoteForMessage(n)} is already recorded by ${key(j)} (channel ${quoteForMessage(entries[j]!.channel)})`,
        );
      }
    }
  });
}
