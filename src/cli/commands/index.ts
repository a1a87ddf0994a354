/**
 * The list of command groups the `vcr` program offers. Each entry registers one group
 * (its subcommands, flags and action) on the program.
 */
import type { Command } from 'commander';
import { registerRecord } from './record.js';
import { registerReplay } from './replay.js';
import { registerEvents } from './events.js';
import { registerQuery } from './query.js';
import { registerQuarantine } from './quarantine.js';
import { registerDelete } from './delete.js';
import { registerCluster } from './cluster.js';
import { registerStatus } from './status.js';
import { registerDemo } from './demo.js';
import { registerArchiver } from './archiver.js';
import { registerCatalog } from './catalog.js';
import { registerImport } from './import.js';
import { registerExport } from './export.js';
import { registerRetention } from './retention.js';
import { registerArchive } from './archive.js';

export type RegisterCommand = (program: Command) => void;

export const commandModules: RegisterCommand[] = [
  registerRecord,
  registerReplay,
  registerEvents,
  registerQuery,
  registerQuarantine,
  registerDelete,
  registerCluster,
  registerStatus,
  registerDemo,
  registerArchiver,
  registerCatalog,
  registerImport,
  registerExport,
  registerRetention,
  registerArchive,
];
