import { describe, expect, it } from 'vitest';
import { applyConfigDocument, defaultConfig } from '../../src/archiver/archiver-config.js';
import { DEFAULT_RETENTION_INTERVAL_MS, limitsFor, parseRetentionConfig } from '../../src/archiver/retention-config.js';
import { ErrorCode, VcrError } from '../../src/util/errors.js';

function errorOf(doc: unknown): VcrError {
  try {
    parseRetentionConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(VcrError);
    return err as VcrError;
  }
  throw new Error('expected an error');
}

describe('retention config', () => {
  it('parses durations and sizes with units, and plain numbers as ms and bytes', () => {
    const c = parseRetentionConfig({
      interval: '15m',
      default: { maxAge: '30d' },
      channels: { 'radar.tracks': { maxAge: '1w', maxBytes: '500GiB' }, debug: { maxBytes: 1_000_000 }, audit: {}, fast: { maxAge: 1500 } },
    });
    expect(c.intervalMs).toBe(15 * 60_000);
    expect(c.defaults).toEqual({ maxAgeMs: 30 * 86_400_000 });
    expect(c.channels.get('radar.tracks')).toEqual({ maxAgeMs: 7 * 86_400_000, maxBytes: 500 * 1024 ** 3 });
    expect(c.channels.get('debug')).toEqual({ maxBytes: 1_000_000 });
    expect(c.channels.get('fast')).toEqual({ maxAgeMs: 1500 });
    expect(parseRetentionConfig({ default: { maxBytes: '2.5 GB' } }).defaults).toEqual({ maxBytes: 2_500_000_000 });
    expect(parseRetentionConfig({}).intervalMs).toBe(DEFAULT_RETENTION_INTERVAL_MS);
  });

  it('finds a channel by any of its names; an empty entry keeps it forever; else the default applies', () => {
    const c = parseRetentionConfig({ default: { maxAge: '30d' }, channels: { alias1: { maxAge: '1d' }, audit: {} } });
    expect(limitsFor(c, ['primary', 'alias1'])).toEqual({ maxAgeMs: 86_400_000 });
    expect(limitsFor(c, ['audit'])).toBeUndefined();
    expect(limitsFor(c, ['other'])).toEqual({ maxAgeMs: 30 * 86_400_000 });
    expect(limitsFor(parseRetentionConfig({}), ['other'])).toBeUndefined();
  });

  it('refuses bad values with INVALID_ARGUMENT naming the key', () => {
    const cases: [unknown, string][] = [
      [[], "'retention'"],
      [{ every: '1h' }, "'retention.every'"],
      [{ interval: '1x' }, "'retention.interval'"],
      [{ interval: 10 }, "'retention.interval'"],
      [{ default: {} }, "'retention.default'"],
      [{ default: { maxAge: -5 } }, "'retention.default.maxAge'"],
      [{ default: { maxAge: '30 days' } }, "'retention.default.maxAge'"],
      [{ default: { maxBytes: '1PB' } }, "'retention.default.maxBytes'"],
      [{ default: { maxBytes: 0 } }, "'retention.default.maxBytes'"],
      [{ default: { keep: 1 } }, "'retention.default.keep'"],
      [{ channels: [] }, "'retention.channels'"],
      [{ channels: { 'a b': { maxAge: '1d' } } }, `'retention.channels["a b"]'`],
      [{ channels: { x: { maxAge: '1d', size: 3 } } }, `'retention.channels["x"].size'`],
      [{ channels: { x: 5 } }, `'retention.channels["x"]'`],
    ];
    for (const [doc, key] of cases) {
      const e = errorOf(doc);
      expect(e.code, JSON.stringify(doc)).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(e.message, JSON.stringify(doc)).toContain(`config key ${key}`);
    }
  });

  it('is read from the archiver config file under one key', () => {
    const c = applyConfigDocument(defaultConfig('/tmp/x'), { retention: { default: { maxAge: '365d' } } });
    expect(c.retention?.defaults).toEqual({ maxAgeMs: 365 * 86_400_000 });
    expect(defaultConfig('/tmp/x').retention).toBeUndefined();
    expect(() => applyConfigDocument(defaultConfig('/tmp/x'), { retention: { default: { maxAge: 'forever' } } })).toThrow(/retention\.default\.maxAge/);
  });
});
