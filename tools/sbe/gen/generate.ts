/**
 * Schema IR -> generated TypeScript files (name -> source). Output is deterministic: the
 * same schema always yields the same bytes, so `sbe:check` can compare trees.
 */
import { SbeSchemaError } from '../errors.js';
import type { Schema } from '../ir.js';
import { headerComment } from './file.js';
import { emitMessage } from './message.js';
import { RUNTIME_FILE, RUNTIME_SOURCE } from './runtime.js';
import { emitRegistry, emitSchemaConstants, REGISTRY_FILE, SCHEMA_FILE } from './schema-files.js';
import { typeFiles } from './types.js';

export interface GeneratedFile {
  /** File name inside the output directory, e.g. `CarEncoder.ts`. */
  name: string;
  source: string;
}

/** schemaPath is how the header names the schema (relative to the repository root). */
export function generateSchema(schema: Schema, schemaPath: string): GeneratedFile[] {
  const header = headerComment(schema, schemaPath);
  const files = new Map<string, string>();
  files.set(RUNTIME_FILE, header + '\n' + RUNTIME_SOURCE);
  files.set(SCHEMA_FILE, emitSchemaConstants(schema, header));
  const add = (name: string, source: string, what: string): void => {
    if (files.has(name)) throw new SbeSchemaError(what, `generates ${name}.ts, which another element generates too`);
    files.set(name, source);
  };
  const types = typeFiles(schema, header);
  for (const [n, src] of types) add(n, src, `type generating ${n}`);
  for (const m of schema.messages) {
    for (const side of ['Encoder', 'Decoder'] as const) {
      const [n, src] = emitMessage(schema, header, m, side);
      add(n, src, `message '${m.name}'`);
    }
  }
  add(REGISTRY_FILE, emitRegistry(schema, header), 'the message registry');
  checkExports(files);
  const names = [...files.keys()].sort();
  const index = `${header}\n${names.map((n) => `export * from './${n}.js';`).join('\n')}\n`;
  const out: GeneratedFile[] = names.map((n) => ({ name: `${n}.ts`, source: files.get(n)! }));
  out.push({ name: 'index.ts', source: index });
  return out;
}

/** index.ts re-exports every file: two files exporting one name would make it ambiguous. */
function checkExports(files: Map<string, string>): void {
  const owner = new Map<string, string>();
  for (const [file, source] of files) {
    for (const m of source.matchAll(/^export (?:const|function|class|enum|interface|type|abstract class) (\w+)/gm)) {
      const other = owner.get(m[1]!);
      if (other !== undefined) {
        throw new SbeSchemaError(`type or message generating ${file}.ts`, `exports '${m[1]}', which ${other}.ts exports too (rename it)`);
      }
      owner.set(m[1]!, file);
    }
  }
}
