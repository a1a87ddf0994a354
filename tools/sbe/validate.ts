/**
 * Rules that span several elements: unique message names and ids, unique field/group/data
 * names within a block and unique ids within a message tree, and names the generated API
 * reserves for itself. Layout rules (offsets, block lengths, dimensions, type references,
 * versions) are enforced while the parser builds the IR, where the element is at hand.
 */
import { SbeSchemaError } from './errors.js';
import type { Block, Schema } from './ir.js';

/** Instance members of generated flyweights; a field of the same name would shadow them. */
export const RESERVED_NAMES = new Set([
  'wrap', 'wrapAndApplyHeader', 'encodedLength', 'hasNext', 'next', 'count', 'index', 'constructor',
  'toString', 'valueOf', 'sbeSkip', 'actingVersion', 'actingBlockLength', 'clear', 'raw', 'limit', 'offset', 'buffer',
]);

export function validateSchema(schema: Schema): void {
  const names = new Set<string>();
  const ids = new Map<number, string>();
  for (const m of schema.messages) {
    const where = `message '${m.name}'`;
    if (names.has(m.name)) throw new SbeSchemaError(where, `duplicate message name '${m.name}'`);
    names.add(m.name);
    const other = ids.get(m.id);
    if (other !== undefined) throw new SbeSchemaError(where, `duplicate message id ${m.id} (also message '${other}')`);
    ids.set(m.id, m.name);
    checkBlock(m, where, new Map());
  }
  for (const t of schema.types) {
    if (t.kind === 'composite') {
      for (const mem of t.members) {
        if (RESERVED_NAMES.has(mem.name) && !['blockLength', 'numInGroup'].includes(mem.name)) {
          throw new SbeSchemaError(`composite '${t.name}' member '${mem.name}'`, `name '${mem.name}' is reserved by the generated API`);
        }
      }
    }
    if (t.kind === 'set') {
      for (const c of t.choices) {
        if (RESERVED_NAMES.has(c.name)) throw new SbeSchemaError(`set '${t.name}' choice '${c.name}'`, `name '${c.name}' is reserved by the generated API`);
      }
    }
  }
}

function checkBlock(b: Block, where: string, ids: Map<number, string>): void {
  const names = new Set<string>();
  const claim = (kind: string, name: string, id: number): string => {
    const w = `${where} ${kind} '${name}'`;
    if (names.has(name)) throw new SbeSchemaError(w, `duplicate name '${name}'`);
    names.add(name);
    if (RESERVED_NAMES.has(name)) throw new SbeSchemaError(w, `name '${name}' is reserved by the generated API`);
    const other = ids.get(id);
    if (other !== undefined) throw new SbeSchemaError(w, `duplicate id ${id} (also ${other})`);
    ids.set(id, w);
    return w;
  };
  for (const f of b.fields) claim('field', f.name, f.id);
  for (const g of b.groups) checkBlock(g, claim('group', g.name, g.id), ids);
  for (const d of b.data) claim('data', d.name, d.id);
}
