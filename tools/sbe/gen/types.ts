/** Emits enums, set encoder/decoder pairs and composite encoder/decoder pairs. */
import { SbeSchemaError } from '../errors.js';
import type { CompositeType, EnumType, Schema, SetType } from '../ir.js';
import { PRIMITIVES } from '../ir.js';
import { decoderAccessors, encoderAccessors, staticAccessors, type ValueSpec } from './accessors.js';
import { assemble, ATTACH_METHOD, FLYWEIGHT_FIELDS, newContext, REFRESH_CACHE, useFlyweightRuntime, type Frame } from './file.js';
import { className, getExpr, jsdoc, setStmt } from './naming.js';
import { RUNTIME_FILE } from './runtime.js';

export function emitEnum(frame: Frame, t: EnumType): [string, string] {
  const name = className(t.name);
  const lines = t.values.map((v) => {
    const note = t.encoding === 'char' ? ` // '${String.fromCharCode(v.value)}'` : '';
    return `${jsdoc([v.description, v.deprecated !== undefined ? `@deprecated since version ${v.deprecated}` : undefined], '  ')}  ${v.name} = ${v.value},${note}`;
  });
  if (!t.values.some((v) => v.name === 'NULL_VAL' || v.value === t.nullValue)) {
    lines.push(`  /** The encoding's null value (an absent or unset enum). */\n  NULL_VAL = ${t.nullValue},`);
  }
  const body = `${jsdoc([t.description, `Encoded as ${t.encoding}. Decoders return unknown raw values as they are.`], '')}export enum ${name} {\n${lines.join('\n')}\n}\n`;
  return [name, assemble(frame, newContext(true), name, body)];
}

export function emitSet(frame: Frame, t: SetType, le: boolean, side: 'Encoder' | 'Decoder'): [string, string] {
  const name = `${className(t.name)}${side}`;
  const ctx = newContext(le);
  useFlyweightRuntime(ctx);
  ctx.imports.set('checkLimit', RUNTIME_FILE);
  const big = PRIMITIVES[t.encoding].big;
  const at = 'this._offset';
  const raw = getExpr(t.encoding, at, le);
  let body = `${jsdoc([t.description, `Bit set encoded as ${t.encoding}.`], '')}export class ${name} {\n`;
  body += `  static readonly ENCODED_LENGTH = ${t.size};\n`;
  // Each choice's bit as a mask value (1 << bit), for code that keeps the set as a number.
  const masks = t.choices.map((c) => `${c.name}: ${big ? `${1n << BigInt(c.bit)}n` : String(2 ** c.bit)}`);
  body += `  static readonly CHOICE_MASKS = { ${masks.join(', ')} } as const;\n${FLYWEIGHT_FIELDS.join('\n')}\n\n`;
  body += `  wrap(buffer: Uint8Array, offset: number): this {\n${REFRESH_CACHE}    this._offset = offset;\n    checkLimit(this._buf, offset + ${t.size}, '${t.name}');\n    return this;\n  }\n\n${ATTACH_METHOD}`;
  const ty = big ? 'bigint' : 'number';
  if (side === 'Encoder') {
    body += `  clear(): this {\n    ${setStmt(t.encoding, at, big ? '0n' : '0', le)}\n    return this;\n  }\n\n`;
    body += `  raw(value: ${ty}): this {\n    ${setStmt(t.encoding, at, 'value', le)}\n    return this;\n  }\n`;
    for (const c of t.choices) {
      const bit = big ? `(1n << ${c.bit}n)` : `(1 << ${c.bit})`;
      body += `\n${jsdoc([c.description], '  ')}  ${c.name}(value: boolean): this {\n    const bits = ${raw};\n`;
      body += `    ${setStmt(t.encoding, at, `value ? bits | ${bit} : bits & ~${bit}`, le)}\n    return this;\n  }\n`;
    }
  } else {
    body += `  raw(): ${ty} {\n    return ${raw};\n  }\n`;
    for (const c of t.choices) {
      const test = big ? `(${raw} & (1n << ${c.bit}n)) !== 0n` : `(${raw} & (1 << ${c.bit})) !== 0`;
      body += `\n${jsdoc([c.description], '  ')}  ${c.name}(): boolean {\n    return ${test};\n  }\n`;
    }
    body += `\n  /** Names of the choices that are set, in schema order. */\n  choices(): string[] {\n    const names: string[] = [];\n`;
    for (const c of t.choices) body += `    if (this.${c.name}()) names.push('${c.name}');\n`;
    body += `    return names;\n  }\n`;
  }
  body += '}\n';
  return [name, assemble(frame, ctx, name, body)];
}

export function emitComposite(frame: Frame, t: CompositeType, le: boolean, side: 'Encoder' | 'Decoder', baseName: string): [string, string] {
  const name = `${baseName}${side}`;
  const ctx = newContext(le);
  useFlyweightRuntime(ctx);
  ctx.imports.set('checkLimit', RUNTIME_FILE);
  let accessors = '';
  for (const m of t.members) {
    const v: ValueSpec = { name: m.name, type: m.type, offset: m.offset, since: 0, presence: m.type.kind === 'type' ? m.type.presence : 'required' };
    if (m.type.description !== undefined && m.type.kind === 'type') v.description = m.type.description;
    if (m.deprecated !== undefined) v.deprecated = m.deprecated;
    accessors += staticAccessors(v);
    accessors += side === 'Encoder' ? encoderAccessors(ctx, v) : decoderAccessors(ctx, v);
    accessors += '\n';
  }
  let body = `${jsdoc([t.description], '')}export class ${name} {\n`;
  body += `  static readonly ENCODED_LENGTH = ${t.size};\n${FLYWEIGHT_FIELDS.join('\n')}\n${ctx.members.join('\n')}${ctx.members.length ? '\n' : ''}\n`;
  body += `  wrap(buffer: Uint8Array, offset: number): this {\n${REFRESH_CACHE}    this._offset = offset;\n    checkLimit(this._buf, offset + ${t.size}, '${t.name}');\n    return this;\n  }\n\n${ATTACH_METHOD}`;
  body += `  encodedLength(): number {\n    return ${t.size};\n  }\n\n`;
  body += accessors.replace(/\n$/, '');
  body += '}\n';
  return [name, assemble(frame, ctx, name, body)];
}

export function typeFiles(schema: Schema, frame: Frame): Map<string, string> {
  const le = schema.byteOrder === 'littleEndian';
  const files = new Map<string, string>();
  const add = ([n, src]: [string, string], what: string): void => {
    if (files.has(n)) throw new SbeSchemaError(what, `generates ${n}.ts, which another type generates too`);
    files.set(n, src);
  };
  for (const t of schema.types) {
    if (t.kind === 'enum') add(emitEnum(frame, t), `enum '${t.name}'`);
    else if (t.kind === 'set') {
      add(emitSet(frame, t, le, 'Encoder'), `set '${t.name}'`);
      add(emitSet(frame, t, le, 'Decoder'), `set '${t.name}'`);
    } else if (t.kind === 'composite') {
      const base = t === schema.headerType ? 'MessageHeader' : className(t.name);
      add(emitComposite(frame, t, le, 'Encoder', base), `composite '${t.name}'`);
      add(emitComposite(frame, t, le, 'Decoder', base), `composite '${t.name}'`);
    }
  }
  return files;
}
