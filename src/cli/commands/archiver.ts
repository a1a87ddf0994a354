/**
 * `vcr archiver --dir DIR [--control HOST:PORT] [--stream HOST:PORT] [--config FILE]`: runs an archiver in the
 * foreground until SIGINT or SIGTERM, then stops every recording cleanly and exits 130 / 143
 * (128 + the signal's number, like every command; src/cli/interrupt.ts). Logs
 * are JSON lines on stderr (docs/ARCHIVER.md). Cluster mode is not implemented yet: asking
 * for it is an error the user can fix (exit 1), not a silent single-node run.
 */
import type { Command } from 'commander';
import { applyConfigDocument, defaultConfig, loadConfigFile, parseHostPort } from '../../archiver/archiver-config.js';
import { ErrorCode, VcrError } from '../../util/errors.js';
import { UsageError } from '../errors.js';
import type { ClusterConfig } from '../../cluster/cluster-config.js';
import { interrupts } from '../interrupt.js';

interface ArchiverOpts {
  dir: string;
  control?: string;
  stream?: string;
  config?: string;
  cluster?: string;
  node?: string;
  metricsPort?: string;
  http?: string;
  logLevel?: string;
}

export function registerArchiver(program: Command): void {
  program
    .command('archiver')
    .description('run an archiver in the foreground (stop with Ctrl-C / SIGTERM)')
    .requiredOption('--dir <DIR>', 'archive directory (created if missing)')
    .option('--control <HOST:PORT>', 'control endpoint (default 127.0.0.1:8010, or the config file\'s "control")')
    .option('--stream <HOST:PORT>', 'TCP endpoint of streamed replays (default: the control host, any free port)')
    .option('--config <FILE>', 'JSON config file (see docs/ARCHIVER.md)')
    .option('--cluster <FILE>', 'cluster file (docs/REPLICATION.md): run as a node of that cluster')
    .option('--node <ID>', 'this node\'s id in the cluster file')
    .option('--http <HOST:PORT|off>', 'HTTP server: operator console at /, Prometheus at /metrics (default: the control host, control port + 1)')
    .option('--metrics-port <PORT>', 'older spelling of --http 127.0.0.1:PORT')
    .option('--log-level <LEVEL>', 'fatal, error, warn, info, debug, trace or silent')
    .action(async (o: ArchiverOpts) => {
      let cluster: { config: ClusterConfig; nodeId: string } | undefined;
      if (o.cluster !== undefined || o.node !== undefined) {
        if (o.cluster === undefined || o.node === undefined) throw new UsageError('--cluster and --node go together');
        const { loadClusterConfig, nodeOf } = await import('../../cluster/cluster-config.js');
        const cc = loadClusterConfig(o.cluster);
        const self = nodeOf(cc, o.node);
        if (o.control !== undefined && o.control !== self.control) {
          throw new UsageError(`--control ${o.control} is not node ${o.node}'s control endpoint in the cluster file (${self.control})`);
        }
        o.control = self.control;
        cluster = { config: cc, nodeId: o.node };
      }
      let config = defaultConfig(o.dir);
      if (o.config !== undefined) config = loadConfigFile(config, o.config);
      const overrides: Record<string, unknown> = {};
      for (const [flag, value, key] of [['--control', o.control, 'control'], ['--stream', o.stream, 'stream']] as const) {
        if (value === undefined) continue;
        try {
          parseHostPort(value, flag);
        } catch (err) {
          throw new UsageError((err as Error).message.replace(`config key '${flag}'`, flag));
        }
        overrides[key] = value;
      }
      if (o.metricsPort !== undefined) overrides.metricsPort = Number(o.metricsPort);
      if (o.http !== undefined) {
        if (o.http !== 'off') {
          try {
            parseHostPort(o.http, '--http');
          } catch (err) {
            throw new UsageError((err as Error).message.replace("config key '--http'", '--http'));
          }
        }
        if (o.metricsPort !== undefined) throw new UsageError('give --http or --metrics-port, not both');
        overrides.http = o.http === 'off' ? null : o.http;
      }
      if (o.logLevel !== undefined) overrides.logLevel = o.logLevel;
      config = applyConfigDocument(config, overrides);
      const { Archiver } = await loadArchiverModule();
      const archiver = await Archiver.launch(config, cluster ? { cluster } : {});
      // for the person who typed `npm start`: logs are JSON on stderr, this line is plain
      if (archiver.consoleUrl !== undefined) process.stdout.write(`VCR console: ${archiver.consoleUrl}\n`);
      const signal = await interrupts.untilInterrupted();
      archiver.log.info({ signal }, 'stopping');
      try {
        await archiver.close();
      } catch (err) {
        archiver.log.error({ error: String(err) }, 'stop failed');
        throw err;
      }
    });
}

/**
 * Loads the archiver (and with it the storage engine and the mmap binding) only when this
 * command runs, so the other commands start without paying for it. (The binding's argv
 * quirk is handled where it is loaded, in src/storage/segment-files.ts.)
 */
function loadArchiverModule(): Promise<typeof import('../../archiver/archiver.js')> {
  return import('../../archiver/archiver.js');
}
