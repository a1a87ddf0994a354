/**
 * Wiring and lifecycle of one archiver process: opens the archive, binds the control
 * endpoint, creates the conductor agent and runs it on an AgentRunner, starts the recordings
 * listed in the config, and serves Prometheus metrics. close() stops every recording (the
 * catalog is left consistent: each recording stopped with its final position) and releases
 * the directory, sockets and HTTP server.
 */
import pino, { type Logger } from 'pino';
import { AgentRunner } from '../agent/agent-runner.js';
import { BackoffIdleStrategy } from '../agent/idle-strategy.js';
import { MonotonicUtcClock, systemEpochNanoClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { parseHostPort, type ArchiverConfig } from './archiver-config.js';
import { ArchiverConductor, type ArchiverLog } from './archiver-conductor.js';
import { ArchiverCounters } from './archiver-counters.js';
import { ArchiverMetrics } from './archiver-metrics.js';
import { ControlAdapter } from './control-adapter.js';
import { ControlResponseProxy } from './control-response-proxy.js';
import { NotificationProxy } from './notification-proxy.js';
import { SourceBinding } from './source-binding.js';
import { StorageBinding } from './storage-binding.js';
import { UdpSender, parseUdpEndpoint } from './udp-endpoint.js';

export interface ArchiverOptions {
  nanoClock?: NanoClock;
  utcClock?: EpochNanoClock;
  logger?: Logger;
}

export function createLogger(level: ArchiverConfig['logLevel']): Logger {
  // JSON lines on stderr: stdout stays free for command output; sync so a crash loses no line.
  return pino({ level, base: { role: 'archiver', pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

export class Archiver {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: ArchiverConfig,
    readonly conductor: ArchiverConductor,
    readonly counters: ArchiverCounters,
    readonly runner: AgentRunner,
    private readonly adapter: ControlAdapter,
    private readonly store: StorageBinding,
    private readonly metrics: ArchiverMetrics | undefined,
    readonly controlHost: string,
    readonly controlPort: number,
    readonly metricsPort: number | undefined,
    readonly log: Logger,
  ) {}

  static async launch(config: ArchiverConfig, options: ArchiverOptions = {}): Promise<Archiver> {
    const log = options.logger ?? createLogger(config.logLevel);
    const nanoClock = options.nanoClock ?? systemNanoClock;
    const utcClock =
      options.utcClock ??
      new MonotonicUtcClock(nanoClock, systemEpochNanoClock, {
        onStep: (offsetNs) => log.warn({ offsetNs: offsetNs.toString() }, 'wall clock stepped; slewing UTC gently'),
      });
    const [host, port] = parseHostPort(config.control);
    const notificationDestinations = config.notifications.map((n) => parseUdpEndpoint(n, 'notification destination'));
    const store = StorageBinding.open(config.dir, {
      ...(config.segmentLength !== undefined ? { segmentLength: config.segmentLength } : {}),
      fileSyncLevel: config.fileSyncLevel,
    });
    for (const r of store.archive.recoveryActions()) log.warn({ recordingId: r.recordingId, actions: r.actions }, 'recording recovered');
    for (const d of store.archive.damage()) log.error({ recordingId: d.recordingId, segmentBase: d.base, code: d.codeName, problem: d.problem }, 'segment damaged');
    const counters = new ArchiverCounters();
    const responses = new ControlResponseProxy();
    let runner: AgentRunner | undefined;
    const wake = () => runner?.wake();
    const clock = { nanoTime: () => nanoClock.nanoTime(), epochNanos: () => utcClock.epochNanos() };
    let adapter: ControlAdapter | undefined;
    const sender = { send: (b: Buffer, p: number, h: string) => adapter?.send(b, p, h) };
    const conductorRef: { c?: ArchiverConductor } = {};
    const notifications = new NotificationProxy(
      sender,
      () => (conductorRef.c ? conductorRef.c.sessions.values() : []),
      notificationDestinations,
    );
    const archLog: ArchiverLog = {
      info: (o, m) => log.info(o, m),
      warn: (o, m) => log.warn(o, m),
      error: (o, m) => log.error(o, m),
    };
    const conductor = new ArchiverConductor({
      config,
      store,
      sources: new SourceBinding(nanoClock, utcClock, wake),
      sender,
      responses,
      notifications,
      counters,
      clock,
      log: archLog,
      createReplaySender: (ep) => new UdpSender(ep),
      pollControl: (limit) => adapter!.poll(limit),
    });
    conductorRef.c = conductor;
    adapter = new ControlAdapter(conductor, counters, config.allowlist);
    adapter.onAvailable = wake;
    let controlPort: number;
    try {
      controlPort = await adapter.bind(host, port);
    } catch (err) {
      adapter.close();
      store.close();
      throw err;
    }
    let metrics: ArchiverMetrics | undefined;
    let metricsPort: number | undefined;
    if (config.metricsPort !== undefined) {
      metrics = new ArchiverMetrics(counters);
      try {
        metricsPort = await metrics.listen(config.metricsPort);
      } catch (err) {
        adapter.close();
        store.close();
        throw err;
      }
    }
    try {
      for (const ch of config.channels) conductor.startRecording(ch.channel, ch.aliases, ch.source);
    } catch (err) {
      // a config channel with a bad source URI: release everything so the process can exit
      conductor.onClose();
      adapter.close();
      await metrics?.close();
      store.close();
      throw err;
    }
    runner = new AgentRunner(conductor, {
      idleStrategy: new BackoffIdleStrategy(),
      errorHandler: (error, source) => {
        counters.add('errors');
        log.error({ source, error: error instanceof Error ? error.message : String(error) }, 'duty cycle error');
      },
    });
    runner.start();
    log.info({ dir: config.dir, control: `${host}:${controlPort}`, metricsPort, channels: config.channels.length }, 'archiver started');
    return new Archiver(config, conductor, counters, runner, adapter, store, metrics, host, controlPort, metricsPort, log);
  }

  /** Stops recordings and replays, closes sessions, the socket, the archive and metrics. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.runner.close();
      this.adapter.close();
      try {
        this.store.close();
      } catch (err) {
        this.log.error({ error: String(err) }, 'closing the archive failed');
      }
      await this.metrics?.close();
      this.log.info({}, 'archiver stopped');
    })();
    return this.closing;
  }
}
