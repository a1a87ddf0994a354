/**
 * Emits a message encoder or decoder file: the message flyweight plus one class per
 * repeating group (nested groups included), named `<Message><Group>Encoder` etc. Groups and
 * var data advance the message's running limit (the SbeCursor), so they must be written and
 * read in schema order, as in every SBE implementation.
 */
import { type Block, type EncodedType, type Group, type Message, type Schema, type VarData } from '../ir.js';
import { decoderAccessors, encoderAccessors, staticAccessors, type EmitContext, type ValueSpec } from './accessors.js';
import { assemble, ATTACH_METHOD, FLYWEIGHT_FIELDS, newContext, REFRESH_CACHE, useFlyweightRuntime, type Frame } from './file.js';
import { bufferEncoding, className, getExpr, jsdoc, setStmt, stringLiteral } from './naming.js';
import { RUNTIME_FILE } from './runtime.js';

type Side = 'Encoder' | 'Decoder';
const I = '  ';

function fieldAccessors(ctx: EmitContext, b: Block, side: Side): string {
  let out = '';
  for (const f of b.fields) {
    const v: ValueSpec = { name: f.name, type: f.type, offset: f.offset, since: f.sinceVersion, presence: f.presence, id: f.id };
    if (f.constEnumValue !== undefined) v.constEnumValue = f.constEnumValue;
    if (f.description !== undefined) v.description = f.description;
    if (f.deprecated !== undefined) v.deprecated = f.deprecated;
    out += staticAccessors(v);
    out += side === 'Encoder' ? encoderAccessors(ctx, v) : decoderAccessors(ctx, v);
    out += '\n';
  }
  return out;
}

function dimMember(g: Group, name: string): { type: EncodedType; offset: number } {
  const m = g.dimension.members.find((x) => x.name === name)!;
  return { type: m.type as EncodedType, offset: m.offset };
}

function groupAccessor(ctx: EmitContext, g: Group, cls: string, side: Side, root: string): string {
  ctx.members.push(`${I}private readonly _${g.name} = new ${cls}();`);
  let out = `${I}static ${g.name}Id(): number { return ${g.id}; }\n${I}static ${g.name}SinceVersion(): number { return ${g.sinceVersion}; }\n`;
  out += jsdoc([g.description, g.deprecated !== undefined ? `@deprecated since version ${g.deprecated}` : undefined], I);
  if (side === 'Encoder') {
    out += `${I}${g.name}Count(count: number): ${cls} {\n${I}${I}return this._${g.name}.wrap(${root}, count);\n${I}}\n`;
  } else {
    if (g.sinceVersion > 0) {
      out += `${I}${g.name}InActingVersion(): boolean { return this._actingVersion >= ${g.sinceVersion}; }\n`;
      out += `${I}${g.name}(): ${cls} {\n${I}${I}if (this._actingVersion < ${g.sinceVersion}) return this._${g.name}.wrapEmpty(${root}, this._actingVersion);\n`;
      out += `${I}${I}return this._${g.name}.wrap(${root}, this._actingVersion);\n${I}}\n`;
    } else {
      out += `${I}${g.name}(): ${cls} {\n${I}${I}return this._${g.name}.wrap(${root}, this._actingVersion);\n${I}}\n`;
    }
  }
  return out + '\n';
}

function varDataAccessors(ctx: EmitContext, d: VarData, side: Side, root: string): string {
  const le = ctx.le;
  const N = className(d.name);
  const lenAt = `pos + ${d.lengthOffset}`;
  const dataAt = `pos + ${d.dataOffset}`;
  const text = d.characterEncoding !== undefined;
  // Binary var data given a string stores its UTF-8 bytes.
  const enc = text ? bufferEncoding(d.characterEncoding) : 'utf8';
  let out = `${I}static ${d.name}Id(): number { return ${d.id}; }\n${I}static ${d.name}SinceVersion(): number { return ${d.sinceVersion}; }\n`;
  out += `${I}static ${d.name}HeaderLength(): number { return ${d.dataOffset}; }\n${I}static ${d.name}MaxLength(): number { return ${d.maxLength}; }\n`;
  if (d.characterEncoding !== undefined) out += `${I}static ${d.name}CharacterEncoding(): string { return ${stringLiteral(d.characterEncoding)}; }\n`;
  out += jsdoc([d.description, d.deprecated !== undefined ? `@deprecated since version ${d.deprecated}` : undefined], I);
  if (side === 'Encoder') {
    ctx.imports.set('putVarData', RUNTIME_FILE);
    out += `${I}${d.name}(value: string | Uint8Array): this {\n${I}${I}const root = ${root};\n${I}${I}const pos = root._limit;\n`;
    out += `${I}${I}const length = putVarData(this._buf, this._view, ${dataAt}, value, '${enc}', ${d.maxLength});\n`;
    out += `${I}${I}${setStmt(d.lengthType, lenAt, 'length', le)}\n`;
    out += `${I}${I}root._limit = ${dataAt} + length;\n${I}${I}return this;\n${I}}\n\n`;
    return out;
  }
  ctx.imports.set('checkLimit', RUNTIME_FILE);
  const gated = d.sinceVersion > 0;
  const gate = (absent: string): string => (gated ? `${I}${I}if (this._actingVersion < ${d.sinceVersion}) return ${absent};\n` : '');
  const prologue = `${I}${I}const root = ${root};\n${I}${I}const pos = root._limit;\n${I}${I}const length = ${getExpr(d.lengthType, lenAt, le)};\n${I}${I}const at = ${dataAt};\n${I}${I}checkLimit(this._buf, at + length, '${d.name}');\n${I}${I}root._limit = at + length;\n`;
  if (gated) out += `${I}${d.name}InActingVersion(): boolean { return this._actingVersion >= ${d.sinceVersion}; }\n`;
  out += `${I}${d.name}Length(): number {\n${gate('0')}${I}${I}return ${getExpr(d.lengthType, `${root}._limit + ${d.lengthOffset}`, le)};\n${I}}\n`;
  const ret = text ? 'string' : 'Uint8Array';
  const textExpr = enc === 'utf8' ? 'getUtf8(this._buf, this._view, at, at + length)'
    : enc === 'latin1' ? 'getLatin1(this._buf, this._view, at, at + length)' : `getText(this._buf, this._view, at, at + length, '${enc}')`;
  const value = text ? textExpr : 'this._buf.subarray(at, at + length)';
  out += `${I}/** ${text ? `Decodes the text (${d.characterEncoding})` : 'A view of the bytes in the buffer (not a copy)'} and moves past it. */\n`;
  out += `${I}${d.name}(): ${ret}${gated ? ' | null' : ''} {\n${gate('null')}${prologue}${I}${I}return ${value};\n${I}}\n`;
  out += `${I}/** Copies the bytes (as many as fit in dst) and moves past them; returns the count copied. */\n`;
  out += `${I}get${N}(dst: Uint8Array, dstOffset: number): number {\n${gate('0')}${prologue}${I}${I}const n = Math.min(length, dst.length - dstOffset);\n${I}${I}dst.set(this._buf.subarray(at, at + n), dstOffset);\n${I}${I}return n;\n${I}}\n`;
  out += `${I}skip${N}(): number {\n${gate('0')}${prologue}${I}${I}return length;\n${I}}\n\n`;
  return out;
}

function skipBody(b: Block): string {
  let out = `${I}/** Moves past every group and var data field not yet read (the limit then marks the message end). */\n${I}sbeSkip(): this {\n`;
  for (const g of b.groups) out += `${I}${I}const ${g.name} = this.${g.name}();\n${I}${I}while (${g.name}.hasNext()) ${g.name}.next().sbeSkip();\n`;
  for (const d of b.data) out += `${I}${I}this.skip${className(d.name)}();\n`;
  return `${out}${I}${I}return this;\n${I}}\n\n`;
}

function groupClass(ctx: EmitContext, g: Group, cls: string, side: Side, extra: string[]): string {
  const le = ctx.le;
  const outer = ctx.members;
  ctx.members = [];
  const bl = dimMember(g, 'blockLength');
  const num = dimMember(g, 'numInGroup');
  const hdr = g.dimension.size;
  let acc = fieldAccessors(ctx, g, side);
  for (const sub of g.groups) {
    const subCls = `${cls.slice(0, -side.length)}${className(sub.name)}${side}`;
    acc += groupAccessor(ctx, sub, subCls, side, 'this._root');
    extra.push(groupClass(ctx, sub, subCls, side, extra));
  }
  for (const d of g.data) acc += varDataAccessors(ctx, d, side, 'this._root');
  if (side === 'Decoder') acc += skipBody(g);
  let body = `${jsdoc([g.description ?? `Repeating group '${g.name}'.`], '')}export class ${cls} {\n`;
  body += `${I}static readonly BLOCK_LENGTH = ${g.blockLength};\n${I}static readonly HEADER_SIZE = ${hdr};\n`;
  body += `${FLYWEIGHT_FIELDS.join('\n')}\n${I}private _root!: SbeCursor;\n${I}private _count = 0;\n${I}private _index = 0;\n`;
  if (side === 'Decoder') {
    body += `${I}private _blockLength = 0;\n${I}_actingVersion = 0;\n${I}private _iterator: SbeGroupIterator<this> | undefined = undefined;\n`;
    ctx.imports.set('SbeGroupIterator', RUNTIME_FILE);
  }
  body += ctx.members.join('\n') + (ctx.members.length ? '\n' : '') + '\n';
  const attach = `${I}${I}this._root = root;\n${I}${I}this._src = root._src;\n${I}${I}this._buf = root._buf;\n${I}${I}this._view = root._view;\n`;
  if (side === 'Encoder') {
    const max = Number(num.type.maxValue);
    const min = Math.max(0, Number(num.type.minValue));
    body += `${I}wrap(root: SbeCursor, count: number): this {\n`;
    body += `${I}${I}if (!Number.isInteger(count) || count < ${min} || count > ${max}) throw new RangeError(\`count \${count} out of range for group ${g.name} (${min}..${max})\`);\n`;
    body += `${attach}${I}${I}const pos = root._limit;\n${I}${I}checkLimit(this._buf, pos + ${hdr}, 'group ${g.name}');\n`;
    body += `${I}${I}${setStmt(bl.type.primitiveType, `pos + ${bl.offset}`, String(g.blockLength), le)}\n`;
    body += `${I}${I}${setStmt(num.type.primitiveType, `pos + ${num.offset}`, 'count', le)}\n`;
    body += `${I}${I}root._limit = pos + ${hdr};\n${I}${I}this._count = count;\n${I}${I}this._index = 0;\n${I}${I}return this;\n${I}}\n\n`;
  } else {
    body += `${I}wrap(root: SbeCursor, actingVersion: number): this {\n${attach}${I}${I}const pos = root._limit;\n`;
    body += `${I}${I}this._blockLength = ${getExpr(bl.type.primitiveType, `pos + ${bl.offset}`, le, 'root._view')};\n`;
    body += `${I}${I}this._count = ${getExpr(num.type.primitiveType, `pos + ${num.offset}`, le, 'root._view')};\n`;
    body += `${I}${I}checkLimit(this._buf, pos + ${hdr}, 'group ${g.name}');\n`;
    body += `${I}${I}root._limit = pos + ${hdr};\n${I}${I}this._index = 0;\n${I}${I}this._actingVersion = actingVersion;\n${I}${I}return this;\n${I}}\n\n`;
    body += `${I}/** An empty group (the group is newer than the acting version). */\n${I}wrapEmpty(root: SbeCursor, actingVersion: number): this {\n${attach}`;
    body += `${I}${I}this._blockLength = 0;\n${I}${I}this._count = 0;\n${I}${I}this._index = 0;\n${I}${I}this._actingVersion = actingVersion;\n${I}${I}return this;\n${I}}\n\n`;
    body += `${I}actingBlockLength(): number {\n${I}${I}return this._blockLength;\n${I}}\n\n`;
    body += `${I}hasNext(): boolean {\n${I}${I}return this._index < this._count;\n${I}}\n\n`;
    // One iterator per group flyweight, made on first use: the iteration state is the group's own.
    body += `${I}[Symbol.iterator](): Iterator<this> {\n${I}${I}return (this._iterator ??= new SbeGroupIterator<this>(this));\n${I}}\n\n`;
  }
  body += `${I}count(): number {\n${I}${I}return this._count;\n${I}}\n\n`;
  const blockExpr = side === 'Encoder' ? String(g.blockLength) : 'this._blockLength';
  body += `${I}next(): this {\n${I}${I}if (this._index >= this._count) throw new RangeError(\`group ${g.name} has only \${this._count} elements\`);\n`;
  body += `${I}${I}this._offset = this._root._limit;\n${I}${I}this._root._limit = this._offset + ${blockExpr};\n${I}${I}checkLimit(this._buf, this._root._limit, 'group ${g.name} element');\n`;
  body += `${I}${I}this._index++;\n${I}${I}return this;\n${I}}\n\n`;
  body += acc.replace(/\n+$/, '\n') + '}\n';
  ctx.members = outer;
  return body;
}

export function emitMessage(schema: Schema, frame: Frame, m: Message, side: Side): [string, string] {
  const ctx = newContext(schema.byteOrder === 'littleEndian');
  useFlyweightRuntime(ctx);
  ctx.imports.set('checkLimit', RUNTIME_FILE);
  ctx.imports.set('SbeCursor', RUNTIME_FILE);
  const base = className(m.name);
  const cls = `${base}${side}`;
  const hdrCls = `MessageHeader${side}`;
  ctx.imports.set(hdrCls, hdrCls);
  const extra: string[] = [];
  let acc = fieldAccessors(ctx, m, side);
  for (const g of m.groups) {
    const gCls = `${base}${className(g.name)}${side}`;
    acc += groupAccessor(ctx, g, gCls, side, 'this');
    extra.push(groupClass(ctx, g, gCls, side, extra));
  }
  for (const d of m.data) acc += varDataAccessors(ctx, d, side, 'this');
  if (side === 'Decoder') acc += skipBody(m);

  let body = `${jsdoc([m.description], '')}export class ${cls} implements SbeCursor {\n`;
  body += `${I}static readonly BLOCK_LENGTH = ${m.blockLength};\n${I}static readonly TEMPLATE_ID = ${m.id};\n`;
  body += `${I}static readonly SCHEMA_ID = ${schema.id};\n${I}static readonly SCHEMA_VERSION = ${schema.version};\n`;
  body += `${I}static readonly SEMANTIC_TYPE = ${stringLiteral(m.semanticType ?? '')};\n`;
  body += `${I}static readonly SEMANTIC_VERSION = ${stringLiteral(schema.semanticVersion ?? '')};\n`;
  body += `${FLYWEIGHT_FIELDS.join('\n')}\n${I}_limit = 0;\n`;
  if (side === 'Decoder') body += `${I}_actingBlockLength = 0;\n${I}_actingVersion = 0;\n`;
  body += ctx.members.join('\n') + (ctx.members.length ? '\n' : '') + '\n';
  if (side === 'Encoder') {
    body += `${I}wrap(buffer: Uint8Array, offset: number): this {\n${REFRESH_CACHE}${I}${I}this._offset = offset;\n${I}${I}this._limit = offset + ${m.blockLength};\n`;
    body += `${I}${I}checkLimit(this._buf, this._limit, '${m.name}');\n${I}${I}return this;\n${I}}\n\n${ATTACH_METHOD}`;
    body += `${I}/** Writes the message header at offset, then wraps the message right after it. */\n`;
    body += `${I}wrapAndApplyHeader(buffer: Uint8Array, offset: number, header: ${hdrCls}): this {\n`;
    body += `${I}${I}header.wrap(buffer, offset).blockLength(${m.blockLength}).templateId(${m.id}).schemaId(${schema.id}).version(${schema.version});\n`;
    body += `${I}${I}return this.wrap(buffer, offset + ${hdrCls}.ENCODED_LENGTH);\n${I}}\n\n`;
  } else {
    body += `${I}wrap(buffer: Uint8Array, offset: number, actingBlockLength: number, actingVersion: number): this {\n${REFRESH_CACHE}`;
    body += `${I}${I}this._offset = offset;\n${I}${I}this._actingBlockLength = actingBlockLength;\n${I}${I}this._actingVersion = actingVersion;\n`;
    body += `${I}${I}this._limit = offset + actingBlockLength;\n${I}${I}checkLimit(this._buf, this._limit, '${m.name}');\n${I}${I}return this;\n${I}}\n\n${ATTACH_METHOD}`;
    body += `${I}/** Reads the header at offset (its blockLength and version become the acting values), then wraps the message after it. */\n`;
    body += `${I}wrapAndApplyHeader(buffer: Uint8Array, offset: number, header: ${hdrCls}): this {\n${I}${I}header.wrap(buffer, offset);\n`;
    body += `${I}${I}const templateId = header.templateId();\n`;
    body += `${I}${I}if (templateId !== ${m.id}) throwWrongTemplate(templateId, ${m.id}, '${m.name}');\n`;
    body += `${I}${I}return this.wrap(buffer, offset + ${hdrCls}.ENCODED_LENGTH, header.blockLength(), header.version());\n${I}}\n\n`;
    body += `${I}actingBlockLength(): number {\n${I}${I}return this._actingBlockLength;\n${I}}\n\n`;
    body += `${I}actingVersion(): number {\n${I}${I}return this._actingVersion;\n${I}}\n\n`;
  }
  body += `${I}/** Bytes from the message start (header excluded) to the current limit. */\n`;
  body += `${I}encodedLength(): number {\n${I}${I}return this._limit - this._offset;\n${I}}\n\n`;
  body += acc.replace(/\n+$/, '\n') + '}\n';
  for (const e of extra) body += `\n${e}`;
  return [cls, assemble(frame, ctx, cls, body)];
}
