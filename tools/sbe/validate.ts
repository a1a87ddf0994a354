/**
 * Rules that span several elements: unique message names and ids, unique field/group/data
 * names within a block and unique ids within a message tree, and names the generated API
 * reserves for itself. Layout rules (offsets, block lengths, dimensions, type references,
 * versions) are enforced while the parser builds the IR, where the element is at hand.
 */
import { SbeSchemaError } from './errors.js';
import type { Block, Schema } from './ir.js';

const COMMON = ['constructor', 'toString', 'valueOf', 'toJSON', 'wrap'];
/** Method names of generated message and group classes; a field of the same name would clash. */
export const RESERVED_NAMES = new Set([
  ...COMMON, 'wrapAndApplyHeader', 'wrapEmpty', 'encodedLength', 'hasNext', 'next', 'count', 'sbeSkip',
  'actingVersion', 'actingBlockLength',
]);
const RESERVED_MEMBERS = new Set([...COMMON, 'encodedLength']);
const RESERVED_CHOICES = new Set([...COMMON, 'clear', 'raw', 'choices']);

/** Generated classes keep their state in `_`-prefixed members; a schema name may not start so. */
function isReserved(name: string, reserved: Set<string> = RESERVED_NAMES): boolean {
  return reserved.has(name) || name.startsWith('_');
}

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
        if (isReserved(mem.name, RESERVED_MEMBERS)) {
          throw new SbeSchemaError(`composite '${t.name}' member '${mem.name}'`, `name '${mem.name}' is reserved by the generated API`);
        }
      }
    }
    if (t.kind === 'set') {
      for (const c of t.choices) {
        if (isReserved(c.name, RESERVED_CHOICES)) throw new SbeSchemaError(`set '${t.name}' choice '${c.name}'`, `name '${c.name}' is reserved by the generated API`);
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
    if (isReserved(name)) throw new SbeSchemaError(w, `name '${name}' is reserved by the generated API`);
    const other = ids.get(id);
    if (other !== undefined) throw new SbeSchemaError(w, `duplicate id ${id} (also ${other})`);
    ids.set(id, w);
    return w;
  };
  for (const f of b.fields) claim('field', f.name, f.id);
  for (const g of b.groups) checkBlock(g, claim('group', g.name, g.id), ids);
  for (const d of b.data) claim('data', d.name, d.id);
  checkDerivedNames(b, where);
}

/** Accessors derived from names (`xLength`, `getX`, `xCount`, ...) must not clash either. */
function checkDerivedNames(b: Block, where: string): void {
  const owner = new Map<string, string>();
  const cap = (n: string): string => n.charAt(0).toUpperCase() + n.slice(1);
  const take = (method: string, element: string): void => {
    const other = owner.get(method);
    if (other !== undefined && other !== element) {
      throw new SbeSchemaError(element, `its generated accessor ${method}() clashes with one of ${other}`);
    }
    owner.set(method, element);
  };
  for (const f of b.fields) {
    const w = `${where} field '${f.name}'`;
    for (const m of [f.name, `${f.name}InActingVersion`, `get${cap(f.name)}`, `put${cap(f.name)}`]) take(m, w);
  }
  for (const g of b.groups) {
    const w = `${where} group '${g.name}'`;
    for (const m of [g.name, `${g.name}Count`, `${g.name}InActingVersion`]) take(m, w);
  }
  for (const d of b.data) {
    const w = `${where} data '${d.name}'`;
    for (const m of [d.name, `${d.name}Length`, `${d.name}InActingVersion`, `get${cap(d.name)}`, `skip${cap(d.name)}`]) take(m, w);
  }
}
