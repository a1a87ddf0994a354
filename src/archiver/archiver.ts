/**
 * Wiring and lifecycle of one archiver process. launch() takes the steps in an order that
 * leaves nothing behind when one fails:
 *
 * 1. bind the control endpoint, then the stream endpoint (a port in use fails here, before
 *    the archive directory is created or opened: ADDRESS_IN_USE);
 * 2. set up the notification destinations (each its own socket; an interface that is not this
 *    host's, or the control endpoint itself, is refused);
 * 3. check the archive directory can be written (STORAGE_UNWRITABLE naming it), then open it;
 * 4. build the conductor (control sessions, recordings, replays) and the metrics endpoint;
 * 5. start the channels listed in the config, by the protocol's own rules;
 * 6. run the conductor on an AgentRunner, woken by the transport and the sources.
 *
 * close() stops every recording (the catalog is left consistent: each recording stopped with
 * its final position) and releases the directory, sockets and HTTP server.
 */
import { ArchiveScheduler, pauseAtFromEnv } from './archive-scheduler.js';
import { continuationKillAtFromEnv } from './continuation-steps.js';
import { archiveTierHooks } from './archive-cluster.js';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { AgentRunner } from '../agent/agent-runner.js';
import { BackoffIdleStrategy } from '../agent/idle-strategy.js';
import { WakeSignal } from '../agent/wake-signal.js';
import { MonotonicUtcClock, systemEpochNanoClock, systemNanoClock, type EpochNanoClock, type NanoClock } from '../util/clock.js';
import { formatHostPort } from '../util/endpoint.js';
import { ErrorCode, VcrError } from '../util/errors.js';
import { AddressAllowlist } from './address-allowlist.js';
import { parseHostPort, type ArchiverConfig } from './archiver-config.js';
import { ArchiverConductor } from './archiver-conductor.js';
import { ArchiverCounters } from './archiver-counters.js';
import { ArchiverMetrics } from './archiver-metrics.js';
import { ConsoleApi } from './http/console-api.js';
import { ConsoleControl } from './http/console-control.js';
import { HttpServer } from './http/http-server.js';
import { httpEndpoint, type HttpEndpoint } from './http/http-endpoint.js';
import type { ArchiverLog } from './archiver-services.js';
import { checkStart } from './channel-rules.js';
import { ControlResponseProxy } from './control-response-proxy.js';
import { ControlSessions } from './control-sessions.js';
import { ControlTransport } from './control-transport.js';
import { checkMulticastInterface, checkNotOwnEndpoint, type BoundAddress } from './destination-checks.js';
import { NotificationProxy, type NotificationDestination } from './notification-proxy.js';
import { RetentionManager } from './retention-manager.js';
import { SourceBinding } from './source-binding.js';
import { StorageBinding } from './storage-binding.js';
import { ClusterBinding } from './cluster-binding.js';
import { ClusterNotifier } from './cluster-notifier.js';
import { CompositeAgent } from '../agent/composite-agent.js';
import type { Agent } from '../agent/agent.js';
import type { ClusterConfig } from '../cluster/cluster-config.js';
import { attachDataPath } from '../cluster/data-path.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { DEFAULT_SEGMENT_LENGTH } from '../storage/layout.js';
import { UdpSender, parseUdpEndpoint } from './udp-endpoint.js';
import { TransportServer } from '../transport/transport-server.js';
import { MAX_STREAM_FRAME } from '../protocol/stream-layout.js';

export interface ArchiverOptions {
  nanoClock?: NanoClock;
  utcClock?: EpochNanoClock;
  logger?: Logger;
  /** cluster mode (docs/REPLICATION.md): the cluster file and this node's id in it */
  cluster?: { config: ClusterConfig; nodeId: string };
}

export function createLogger(level: ArchiverConfig['logLevel']): Logger {
  // JSON lines on stderr: stdout stays free for command output; sync so a crash loses no line.
  return pino({ level, base: { role: 'archiver', pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** Creates the archive directory if needed and checks it can be written, before anything opens it. */
export function prepareArchiveDir(dir: string): void {
  const unwritable = (err: NodeJS.ErrnoException, what: string): VcrError =>
    new VcrError(ErrorCode.STORAGE_UNWRITABLE, `archive directory ${dir} ${what}: ${err.code ?? err.message}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST' || e.code === 'ENOTDIR') throw new VcrError(ErrorCode.INVALID_ARGUMENT, `archive directory ${dir} is not a directory`);
    throw unwritable(e, 'cannot be created');
  }
  if (!statSync(dir).isDirectory()) throw new VcrError(ErrorCode.INVALID_ARGUMENT, `archive directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw unwritable(err as NodeJS.ErrnoException, 'is not writable');
  }
}

/** Sockets for the configured notification destinations, each set up (multicast options applied). */
async function openNotificationDestinations(uris: readonly string[], control: BoundAddress): Promise<NotificationDestination[]> {
  const out: NotificationDestination[] = [];
  try {
    for (const [i, uri] of uris.entries()) {
      const what = `config key 'notifications[${i}]': destination`;
      const endpoint = parseUdpEndpoint(uri, what);
      checkNotOwnEndpoint(what, endpoint.host, endpoint.port, control);
      if (endpoint.interface !== undefined) checkMulticastInterface(what, endpoint.interface);
      const sender = new UdpSender(endpoint, { native: false });
      out.push({ endpoint, sender });
      await sender.whenReady();
    }
  } catch (err) {
    for (const d of out) (d.sender as UdpSender).close();
    throw err;
  }
  return out;
}

export class Archiver {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: ArchiverConfig,
    readonly conductor: ArchiverConductor,
    readonly counters: ArchiverCounters,
    readonly runner: AgentRunner,
    private readonly release: () => Promise<void>,
    readonly controlHost: string,
    readonly controlPort: number,
    /** HOST:PORT of the stream endpoint as bound. */
    readonly streamAddress: string,
    /** Port of the HTTP server (console, API, /metrics); undefined when it is off. */
    readonly metricsPort: number | undefined,
    readonly log: Logger,
    /** The console's URL (http://HOST:PORT/); undefined when the HTTP server is off. */
    readonly consoleUrl: string | undefined = undefined,
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
    const counters = new ArchiverCounters();
    const wake = new WakeSignal();
    const allowlist = new AddressAllowlist(config.allowlist);
    const transport = new ControlTransport(counters, { allowlist, onAvailable: wake.signal });
    // Everything opened from here on is released, last first, if a later step fails.
    const opened: (() => void | Promise<void>)[] = [() => transport.close()];
    const releaseAll = async (): Promise<void> => {
      while (opened.length > 0) {
        try {
          await opened.pop()!();
        } catch (err) {
          log.error({ error: String(err) }, 'releasing a resource failed');
        }
      }
    };
    try {
      const controlPort = await transport.bind(host, port);
      const control = transport.address!;
      const streamServer = new TransportServer(config.stream ?? formatHostPort(host, 0), {
        what: 'stream endpoint',
        onAccept: wake.signal,
        connection: {
          // a client only ever sends its StreamHello: what a stranger can make us buffer stays small
          maxFrameLength: 1024,
          maxInboundBytes: 64 * 1024,
          maxSendFrameLength: MAX_STREAM_FRAME,
          onReceive: wake.signal,
          onDrain: wake.signal,
        },
      });
      opened.push(() => streamServer.close());
      await streamServer.listen();
      const destinations = await openNotificationDestinations(config.notifications, control);
      opened.push(() => destinations.forEach((d) => (d.sender as UdpSender).close()));
      prepareArchiveDir(config.dir);
      let clusterNode: ClusterNode | undefined;
      const store = StorageBinding.open(config.dir, {
        ...(config.segmentLength !== undefined ? { segmentLength: config.segmentLength } : {}),
        fileSyncLevel: config.fileSyncLevel,
        ...(options.cluster ? { deleteSealedSegmentsOnly: true, onSegmentSealed: (sealed) => clusterNode?.onSealed(sealed) } : {}),
      });
      opened.push(() => store.close());
      for (const r of store.archive.recoveryActions()) log.warn({ recordingId: r.recordingId, actions: r.actions }, 'recording recovered');
      for (const d of store.archive.damage()) log.error({ recordingId: d.recordingId, segmentBase: d.base, code: d.codeName, problem: d.problem }, 'segment damaged');
      const archLog: ArchiverLog = {
        info: (o, m) => log.info(o, m),
        warn: (o, m) => log.warn(o, m),
        error: (o, m) => log.error(o, m),
      };
      let archiveStore: StorageBinding | ClusterBinding = store;
      if (options.cluster) {
        const segmentLength = config.segmentLength ?? DEFAULT_SEGMENT_LENGTH;
        let binding: ClusterBinding | undefined;
        clusterNode = await ClusterNode.start({
          config: options.cluster.config,
          nodeId: options.cluster.nodeId,
          dir: config.dir,
          archive: store.archive,
          segmentLength,
          log: archLog,
          isRecordingHere: (id) => binding?.isRecordingHere(id) ?? false,
        });
        const node = clusterNode;
        opened.push(() => node.close());
        binding = new ClusterBinding(store, node, segmentLength, () => utcClock.epochNanos(), { counters, killAt: continuationKillAtFromEnv() });
        const recordingHere = binding;
        const dataPath = await attachDataPath({ node, archive: store.archive, dir: config.dir, isRecordingHere: (id) => recordingHere.isRecordingHere(id), wake: wake.signal });
        binding.remote = dataPath.remote;
        binding.lag = () => dataPath.lag();
        archiveStore = binding;
      }
      const sessions = new ControlSessions(config.limits);
      const consoleControl = new ConsoleControl(sessions.detached('console', nanoClock.nanoTime()), wake.signal);
      const notifications = new NotificationProxy(transport, () => sessions.values(), destinations);
      if (archiveStore instanceof ClusterBinding) archiveStore.notifier = new ClusterNotifier(notifications);
      const clock = { nanoTime: () => nanoClock.nanoTime(), epochNanos: () => utcClock.epochNanos() };
      const coordinator = clusterNode?.coordinator;
      const retention = new RetentionManager({
        config: config.retention,
        store: archiveStore,
        clock,
        log: archLog,
        counters,
        notify: (r) => notifications.retentionRunEnded({ ...r, errors: r.errors.length }),
        // in a cluster the schedule runs on the coordinator only (docs/ARCHIVER.md "Retention")
        ...(coordinator ? { mayRunScheduled: () => coordinator.leading } : {}),
      });
      const archiveTier = new ArchiveScheduler({
        archive: store.archive,
        config: config.archive,
        owner: options.cluster?.nodeId ?? 'local',
        nowMs: () => Number(utcClock.epochNanos() / 1_000_000n),
        counters,
        log: archLog,
        passEnded: (id, r) => notifications.archivePassEnded(id, r.dryRun, r.segmentsArchived, r.failures.length, r.bytesIn, r.bytesOut, utcClock.epochNanos()),
        ...archiveTierHooks(archiveStore, config.archive?.shared ?? false),
        ...(pauseAtFromEnv() ? { pauseAt: pauseAtFromEnv()! } : {}),
      });
      const conductor = new ArchiverConductor({
        config,
        store: archiveStore,
        sources: new SourceBinding(nanoClock, utcClock, wake.signal),
        sessions,
        sender: transport,
        inbound: transport,
        controlAddress: () => transport.address,
        responses: new ControlResponseProxy(),
        notifications,
        counters,
        clock,
        log: archLog,
        createReplaySender: (ep) => new UdpSender(ep),
        streamServer,
        local: consoleControl,
        retention,
        archiveTier,
      });
      const agents: Agent[] = [conductor, archiveTier];
      if (clusterNode) {
        const node = clusterNode;
        agents.push({ roleName: 'cluster', doWork: () => node.doWork(), onClose: () => undefined });
      }
      const runner = new AgentRunner(new CompositeAgent(agents, 'archiver'), {
        idleStrategy: new BackoffIdleStrategy(),
        wakeSignal: wake,
        errorHandler: (error, source) => {
          counters.add('errors');
          log.error({ source, error: error instanceof Error ? error.message : String(error) }, 'duty cycle error');
        },
      });
      // closing the runner (started or not) closes the conductor: recordings stop, sessions end;
      // a cluster node then gets a moment to publish the stops before it leaves (§6)
      opened.push(async () => {
        await runner.close();
        if (clusterNode) await clusterNode.drain(3000);
      });
      let metricsPort: number | undefined;
      let consoleUrl: string | undefined;
      const endpoint = httpEndpoint(config);
      if (endpoint) {
        const cluster = archiveStore instanceof ClusterBinding ? archiveStore : undefined;
        const metrics = new ArchiverMetrics(counters, cluster ? () => cluster.clusterStatus() : undefined);
        const info = { allowDestructive: config.allowDestructive, control: formatHostPort(host, controlPort), nodeId: options.cluster?.nodeId };
        const api = new ConsoleApi(consoleControl, info, () => utcClock.epochNanos());
        const http = new HttpServer({ allowlist, counters, metrics, log: archLog, api: (router, csrf) => api.routes(router, csrf) });
        opened.push(async () => {
          api.close();
          await http.close();
        });
        metricsPort = await listenHttp(http, endpoint, log);
        consoleUrl = http.url;
      }
      startConfigChannels(config, conductor, archiveStore);
      runner.start();
      log.info(
        { dir: config.dir, control: formatHostPort(host, controlPort), stream: streamServer.address, metricsPort, console: consoleUrl, channels: config.channels.length },
        'archiver started',
      );
      return new Archiver(config, conductor, counters, runner, releaseAll, host, controlPort, streamServer.address, metricsPort, log, consoleUrl);
    } catch (err) {
      await releaseAll();
      throw err;
    }
  }

  /** Stops recordings and replays, closes sessions, the socket, the archive and metrics. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.release();
      this.log.info({}, 'archiver stopped');
    })();
    return this.closing;
  }
}

/** Binds the HTTP server; a derived default port that is taken gives way to any free port. */
async function listenHttp(http: HttpServer, endpoint: HttpEndpoint, log: Logger): Promise<number> {
  try {
    return await http.listen(endpoint.host, endpoint.port);
  } catch (err) {
    if (!endpoint.derived || !(err instanceof VcrError) || err.code !== ErrorCode.ADDRESS_IN_USE) throw err;
    log.warn({ port: endpoint.port }, 'the default HTTP port is taken; serving the console on a free port instead');
    return http.listen(endpoint.host, 0);
  }
}

/** The config's channels, started by the same rules as a StartRecordingRequest; errors name the key. */
function startConfigChannels(config: ArchiverConfig, conductor: ArchiverConductor, store: { listRecordings: StorageBinding['listRecordings'] }): void {
  config.channels.forEach((ch, i) => {
    try {
      checkStart(ch, conductor.recordings.active(), store.listRecordings(), config.limits.maxRecordings);
      conductor.recordings.start(ch);
    } catch (err) {
      const e = err as VcrError;
      const key = e.code === ErrorCode.INVALID_SOURCE ? `channels[${i}].source` : `channels[${i}]`;
      throw new VcrError(e.code ?? ErrorCode.GENERIC, `config key '${key}': ${e.message}`, { cause: err });
    }
  });
}
