/**
 * Maps `src/sources` onto the SourceFactory port: one shared clock pair for every source of
 * the archiver (so UTC stamps of all channels come from one MonotonicUtcClock), the configured
 * maximum event size for file/stdin sources that do not set their own, and a wake-up hook so a
 * parked duty cycle runs as soon as a source has data.
 */
import { DEFAULT_MAX_EVENT_SIZE, createSource, parseSourceUri, type Source } from '../sources/index.js';
import type { EpochNanoClock, NanoClock } from '../util/clock.js';
import type { EventSourcePort, SourceCountersView, SourceEventHandler, SourceFactory } from './ports.js';

class SourceAdapter implements EventSourcePort {
  constructor(
    private readonly s: Source,
    private readonly givenUri: string,
  ) {}

  open(): Promise<void> {
    return this.s.open();
  }

  poll(handler: SourceEventHandler, limit: number): number {
    return this.s.poll(handler, limit);
  }

  isEnded(): boolean {
    return this.s.isEnded();
  }

  flush(handler: SourceEventHandler): number {
    return this.s.flush(handler);
  }

  boundUri(): string {
    return this.s.boundUri();
  }

  ownStart(): { utcNs: bigint; monoNs: bigint } | undefined {
    return this.s.ownStart?.();
  }

  failure(): Error | undefined {
    return this.s.state === 'FAILED' ? (this.s.lastError ?? new Error('source failed')) : undefined;
  }

  counters(): SourceCountersView {
    const c = this.s.counters;
    return { events: c.events, bytes: c.bytes, kernelDrops: c.kernelDrops, oversize: c.oversize, queueDrops: c.queueDrops, malformed: c.malformed };
  }

  close(): void {
    this.s.close();
  }
}

export class SourceBinding implements SourceFactory {
  constructor(
    private readonly nanoClock: NanoClock,
    private readonly utcClock: EpochNanoClock,
    private readonly onAvailable: () => void,
  ) {}

  create(uri: string, opts: { maxEventSize: number }): EventSourcePort {
    let spec = parseSourceUri(uri);
    if ((spec.kind === 'file' || spec.kind === 'stdin') && spec.maxEventSize === DEFAULT_MAX_EVENT_SIZE && opts.maxEventSize !== DEFAULT_MAX_EVENT_SIZE) {
      spec = { ...spec, maxEventSize: opts.maxEventSize };
    }
    const s = createSource(spec, { nanoClock: this.nanoClock, utcClock: this.utcClock });
    s.onAvailable = this.onAvailable;
    return new SourceAdapter(s, uri);
  }
}
