/**
 * The `vcr` command line (SPEC §3). Each command group lives in its own module under
 * `commands/` and registers itself on the commander program; this module only wires them
 * together and maps failures to the exit-status contract: 0 success (also when stdout's
 * reader went away, like `| head`), 1 an error the user can fix, 2 bad usage, 130 / 143 after
 * SIGINT / SIGTERM (interrupt.ts).
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { UsageError, exitCodeFor, describeError } from './errors.js';
import { commandModules } from './commands/index.js';
import { interrupts } from './interrupt.js';
import { StdoutClosed, finishStdout, guardOutputStreams } from './output.js';

function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/cli -> package root
  for (const up of ['../../..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vcr' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vcr')
    .description('VCR: record, store and replay streams of events (UDP, files, stdin)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commandModules) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  guardOutputStreams();
  interrupts.install();
  try {
    await run(argv);
    await finishStdout().catch((err: unknown) => report(err));
  } finally {
    const code = interrupts.exitCode;
    if (code !== undefined) process.exitCode = code;
    interrupts.uninstall();
  }
}

async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        process.exitCode = 0;
        return;
      }
      // commander already printed its message to stderr
      process.exitCode = 2;
      return;
    }
    report(err);
  }
}

/** Exit status and message for a failed command (nothing for a closed stdout, or after a signal). */
function report(err: unknown): void {
  if (err instanceof StdoutClosed) {
    process.exitCode = 0;
    return;
  }
  // a signal's cleanup (the session closed under the command) is not an error to print
  if (interrupts.received !== undefined) return;
  if (err instanceof UsageError) {
    process.stderr.write(`vcr: ${err.message}\n(run with --help for usage)\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`vcr: ${describeError(err)}\n`);
  process.exitCode = exitCodeFor(err);
}
