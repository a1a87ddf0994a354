/**
 * `npm run sbe -- generate --schema FILE --out DIR` writes TypeScript codecs for any SBE 1.0
 * schema; `npm run sbe -- decode --schema FILE --input FILE.bin [--offset N]` prints the
 * message in the file as JSON (through the IR interpreter, so it needs no generated code).
 * Exit status: 0 success, 1 bad schema or input (the message says what), 2 bad usage.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { decode, toPrintable } from './interpreter.js';
import { generateFromFile, writeGenerated } from './output.js';
import { loadSchema } from './parser.js';

class UserError extends Error {}

function buildProgram(out: (s: string) => void): Command {
  const program = new Command('sbe');
  program.description('SBE 1.0 code generator and decoder').exitOverride().showHelpAfterError();
  program
    .command('generate')
    .description('generate TypeScript flyweight codecs for a schema')
    .requiredOption('--schema <file>', 'SBE XML schema')
    .requiredOption('--out <dir>', 'output directory')
    .action((opts: { schema: string; out: string }) => {
      const files = generateFromFile(opts.schema);
      writeGenerated(opts.out, files);
      out(`${opts.schema} -> ${opts.out} (${files.length} files)\n`);
    });
  program
    .command('decode')
    .description('print the message in a binary file as JSON')
    .requiredOption('--schema <file>', 'SBE XML schema')
    .requiredOption('--input <file>', 'file holding a message (header first)')
    .option('--offset <n>', 'byte offset of the message header in the file', '0')
    .action((opts: { schema: string; input: string; offset: string }) => {
      if (!/^\d+$/.test(opts.offset)) throw new CommanderError(2, 'sbe.usage', `--offset '${opts.offset}' is not a non-negative integer`);
      const schema = loadSchema(opts.schema);
      let bytes: Buffer;
      try {
        bytes = readFileSync(opts.input);
      } catch (err) {
        throw new UserError(`cannot read ${opts.input}: ${(err as Error).message}`);
      }
      out(`${JSON.stringify(toPrintable(decode(schema, bytes, Number(opts.offset))), null, 2)}\n`);
    });
  return program;
}

export function main(argv: string[]): number {
  const program = buildProgram((s) => process.stdout.write(s));
  try {
    program.parse(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
      if (err.code === 'sbe.usage') process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
