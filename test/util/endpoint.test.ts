import { describe, expect, it } from 'vitest';
import { ErrorCode, VcrError } from '../../src/util/errors.js';
import { formatHostPort, parseEndpoint } from '../../src/util/endpoint.js';

function codeOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof VcrError ? err.code : -1;
  }
  return undefined;
}

describe('parseEndpoint (the one endpoint parser)', () => {
  it('parses udp://, tcp:// and bare HOST:PORT with IPv4, bracketed IPv6 and localhost', () => {
    const u = parseEndpoint('udp://239.1.2.3:9000?interface=127.0.0.1', { schemes: ['udp'], params: ['interface'] });
    expect(u).toMatchObject({ scheme: 'udp', host: '239.1.2.3', port: 9000, family: 4, multicast: true });
    expect(u.params.get('interface')).toBe('127.0.0.1');
    expect(parseEndpoint('tcp://[::1]:8110', { schemes: ['tcp'] })).toMatchObject({ host: '::1', family: 6, port: 8110 });
    expect(parseEndpoint('localhost:8010', { schemes: ['none'] })).toMatchObject({ host: '127.0.0.1', port: 8010, scheme: 'none' });
    expect(formatHostPort('::1', 5)).toBe('[::1]:5');
  });

  it('refuses host names, bad ports, unknown schemes and parameters with INVALID_ARGUMENT', () => {
    const rules = { schemes: ['udp'] as const, what: 'destination' };
    expect(codeOf(() => parseEndpoint('udp://example.com:9000', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    try {
      parseEndpoint('udp://example.com:9000', rules);
    } catch (err) {
      expect((err as Error).message).toMatch(/host names are not supported/);
    }
    expect(codeOf(() => parseEndpoint('udp://127.0.0.1:0', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(parseEndpoint('udp://127.0.0.1:0', { ...rules, allowPortZero: true }).port).toBe(0);
    expect(codeOf(() => parseEndpoint('udp://127.0.0.1:70000', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseEndpoint('tcp://127.0.0.1:1', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseEndpoint('udp://127.0.0.1:1?x=1', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseEndpoint('udp://1.2.3:1', rules))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => parseEndpoint('::1:80', { schemes: ['none'] }))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('quotes at most 200 characters of a huge argument', () => {
    const huge = `udp://${'a'.repeat(100_000)}:1`;
    try {
      parseEndpoint(huge, { schemes: ['udp'] });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(600);
    }
  });
});
