/**
 * A stats snapshot too large for one datagram travels as several StatsSnapshot messages
 * (the archiver's proxy splits it); the client must keep every part, not take the first
 * one or drop later parts as duplicates.
 */
import { describe, expect, it } from 'vitest';
import { ControlResponseProxy } from '../../src/archiver/control-response-proxy.js';
import { ControlResponseAdapter, type DataMessage } from '../../src/client/control-response-adapter.js';

describe('stats snapshots in parts', () => {
  it('every part reaches the client under its own key', () => {
    const counters: [string, number][] = [];
    for (let i = 0; i < 4000; i++) counters.push([`channel.some.rather.long.channel.name.${i}.events`, i]);
    const parts = new ControlResponseProxy().statsSnapshots(1, 7n, 123n, counters);
    expect(parts.length).toBeGreaterThan(1);
    const got = new Map<string, DataMessage>();
    const adapter = new ControlResponseAdapter({
      onControlResponse: () => undefined,
      onData: (_corr, key, msg) => got.set(key, msg),
      onNotification: () => undefined,
      onMalformed: (reason) => {
        throw new Error(reason);
      },
    });
    for (const p of parts) adapter.onDatagram(p);
    expect(got.size).toBe(parts.length);
    const merged = new Map<string, number>();
    for (const m of got.values()) if (m.kind === 'stats') for (const [k, v] of m.value.counters) merged.set(k, v);
    expect(merged.size).toBe(4000);
    expect(merged.get('channel.some.rather.long.channel.name.3999.events')).toBe(3999);
  });
});
