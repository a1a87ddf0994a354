/**
 * Emits the accessors of one value in a block (a message or group field, or a composite
 * member) for an encoder or a decoder class. All accessors address `this._offset + offset`
 * through the class's cached DataView/Buffer; nested set and composite flyweights are
 * allocated once per enclosing flyweight and re-wrapped on each access.
 */
import { PRIMITIVES, type Presence, type TypeDef } from '../ir.js';
import { RUNTIME_FILE } from './runtime.js';
import { bufferEncoding, className, getExpr, jsdoc, literal, setStmt, stringLiteral, tsType } from './naming.js';

export interface EmitContext {
  le: boolean;
  /** Imported symbol -> module base name (without `.js`). */
  imports: Map<string, string>;
  /** Extra instance field declarations of the class being emitted. */
  members: string[];
}

export interface ValueSpec {
  name: string;
  type: TypeDef;
  offset: number;
  /** Version gate for decoders of messages and groups (0: always present). */
  since: number;
  presence: Presence;
  constEnumValue?: string;
  id?: number;
  description?: string;
  deprecated?: number;
}

const I = '  ';

function doc(v: ValueSpec): string {
  return jsdoc([v.description, v.deprecated !== undefined ? `@deprecated since version ${v.deprecated}` : undefined], I);
}

function use(ctx: EmitContext, symbol: string, file: string = symbol): string {
  ctx.imports.set(symbol, file);
  return symbol;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function isExactNumber(text: string): boolean {
  const b = BigInt(text);
  return (b >= -MAX_SAFE && b <= MAX_SAFE) || b === -(2n ** 63n);
}

/** min/max of a jsType="number" field: the schema's range clamped to the safe integers. */
function safeBound(text: string, bound: 'min' | 'max'): string {
  const b = BigInt(text);
  return String(bound === 'min' ? (b < -MAX_SAFE ? -MAX_SAFE : b) : b > MAX_SAFE ? MAX_SAFE : b);
}

/**
 * Statics common to encoder and decoder: id, sinceVersion, where the value lies in its block
 * (encoding offset and length, for values on the wire), null/min/max, lengths.
 */
export function staticAccessors(v: ValueSpec): string {
  let out = '';
  if (v.id !== undefined) {
    out += `${I}static ${v.name}Id(): number { return ${v.id}; }\n`;
    out += `${I}static ${v.name}SinceVersion(): number { return ${v.since}; }\n`;
  }
  const t = v.type;
  const onWire = v.presence !== 'constant' && !(t.kind === 'type' && t.presence === 'constant');
  if (onWire) {
    out += `${I}static ${v.name}EncodingOffset(): number { return ${v.offset}; }\n`;
    out += `${I}static ${v.name}EncodingLength(): number { return ${t.size}; }\n`;
  }
  if (t.kind === 'type' && t.presence !== 'constant' && v.presence !== 'constant' && t.primitiveType !== 'char') {
    const p = t.primitiveType;
    const num = t.jsNumber === true;
    const ty = tsType(p, num);
    // A number field that can never be null (a required uint64) has no exact null to give.
    if (!num || isExactNumber(t.nullValue)) out += `${I}static ${v.name}NullValue(): ${ty} { return ${literal(p, t.nullValue, num)}; }\n`;
    out += `${I}static ${v.name}MinValue(): ${ty} { return ${literal(p, num ? safeBound(t.minValue, 'min') : t.minValue, num)}; }\n`;
    out += `${I}static ${v.name}MaxValue(): ${ty} { return ${literal(p, num ? safeBound(t.maxValue, 'max') : t.maxValue, num)}; }\n`;
  }
  if (t.kind === 'type' && t.presence !== 'constant' && (t.length > 1 || t.primitiveType === 'char')) {
    out += `${I}static ${v.name}Length(): number { return ${t.length}; }\n`;
  }
  if (t.kind === 'type' && t.primitiveType === 'char') {
    out += `${I}static ${v.name}CharacterEncoding(): string { return ${stringLiteral(t.characterEncoding ?? 'US-ASCII')}; }\n`;
  }
  return out;
}

function constantGetter(ctx: EmitContext, v: ValueSpec): string | undefined {
  const t = v.type;
  if (v.presence === 'constant' && t.kind === 'enum' && v.constEnumValue !== undefined) {
    const e = use(ctx, className(t.name));
    return `${doc(v)}${I}${v.name}(): ${e} { return ${e}.${v.constEnumValue}; }\n`;
  }
  if (t.kind === 'type' && t.presence === 'constant') {
    const cv = t.constValue ?? '';
    if (t.primitiveType === 'char') return `${doc(v)}${I}${v.name}(): string { return ${stringLiteral(cv)}; }\n`;
    return `${doc(v)}${I}${v.name}(): ${tsType(t.primitiveType, t.jsNumber)} { return ${literal(t.primitiveType, cv, t.jsNumber)}; }\n`;
  }
  return undefined;
}

export function encoderAccessors(ctx: EmitContext, v: ValueSpec): string {
  const c = constantGetter(ctx, v);
  if (c !== undefined) return c;
  const t = v.type;
  const at = `this._offset + ${v.offset}`;
  const le = ctx.le;
  let out = doc(v);
  switch (t.kind) {
    case 'type': {
      const p = t.primitiveType;
      const num = t.jsNumber === true;
      if (p === 'char') {
        use(ctx, 'putChars', RUNTIME_FILE);
        use(ctx, 'putBytes', RUNTIME_FILE);
        const enc = bufferEncoding(t.characterEncoding);
        out += `${I}${v.name}(value: string): this {\n${I}${I}putChars(this._buf, ${at}, ${t.length}, value, '${enc}');\n${I}${I}return this;\n${I}}\n`;
        out += `${I}put${className(v.name)}(src: Uint8Array, srcOffset: number): this {\n${I}${I}putBytes(this._buf, ${at}, ${t.length}, src, srcOffset);\n${I}${I}return this;\n${I}}\n`;
      } else if (t.length === 1) {
        out += `${I}${v.name}(value: ${tsType(p, num)}): this {\n${I}${I}${setStmt(p, at, 'value', le, undefined, num)}\n${I}${I}return this;\n${I}}\n`;
      } else {
        const size = PRIMITIVES[p].size;
        out += `${I}${v.name}(index: number, value: ${tsType(p, num)}): this {\n`;
        out += `${I}${I}if (index < 0 || index >= ${t.length}) throw new RangeError(\`index \${index} out of range for ${v.name} (length ${t.length})\`);\n`;
        out += `${I}${I}${setStmt(p, `${at} + index * ${size}`, 'value', le, undefined, num)}\n${I}${I}return this;\n${I}}\n`;
      }
      return out;
    }
    case 'enum': {
      const e = use(ctx, className(t.name));
      return out + `${I}${v.name}(value: ${e}): this {\n${I}${I}${setStmt(t.encoding, at, 'value', le)}\n${I}${I}return this;\n${I}}\n`;
    }
    case 'set':
    case 'composite': {
      const cls = use(ctx, `${className(t.name)}Encoder`);
      ctx.members.push(`${I}private readonly _${v.name} = new ${cls}();`);
      return out + `${I}${v.name}(): ${cls} {\n${I}${I}return this._${v.name}.wrap(this._src, ${at});\n${I}}\n`;
    }
  }
}

export function decoderAccessors(ctx: EmitContext, v: ValueSpec): string {
  const c = constantGetter(ctx, v);
  if (c !== undefined) return c;
  const t = v.type;
  const at = `this._offset + ${v.offset}`;
  const le = ctx.le;
  const gated = v.since > 0;
  const gate = (absent: string): string => (gated ? `${I}${I}if (this._actingVersion < ${v.since}) return ${absent};\n` : '');
  let out = '';
  if (gated) out += `${I}${v.name}InActingVersion(): boolean { return this._actingVersion >= ${v.since}; }\n`;
  out += doc(v);
  switch (t.kind) {
    case 'type': {
      const p = t.primitiveType;
      const num = t.jsNumber === true;
      const ty = tsType(p, num);
      if (p === 'char') {
        use(ctx, 'getChars', RUNTIME_FILE);
        use(ctx, 'copyBytes', RUNTIME_FILE);
        const enc = bufferEncoding(t.characterEncoding);
        out += `${I}${v.name}(): string${gated ? ' | null' : ''} {\n${gate('null')}${I}${I}return getChars(this._buf, this._view, ${at}, ${t.length}, '${enc}');\n${I}}\n`;
        out += `${I}get${className(v.name)}(dst: Uint8Array, dstOffset: number): number {\n${gate('0')}${I}${I}return copyBytes(this._buf, ${at}, ${t.length}, dst, dstOffset);\n${I}}\n`;
      } else if (t.length === 1) {
        out += `${I}${v.name}(): ${ty} {\n${gate(literal(p, t.nullValue, num))}${I}${I}return ${getExpr(p, at, le, undefined, num)};\n${I}}\n`;
      } else {
        const size = PRIMITIVES[p].size;
        out += `${I}${v.name}(index: number): ${ty} {\n`;
        out += `${I}${I}if (index < 0 || index >= ${t.length}) throw new RangeError(\`index \${index} out of range for ${v.name} (length ${t.length})\`);\n`;
        out += `${gate(literal(p, t.nullValue, num))}${I}${I}return ${getExpr(p, `${at} + index * ${size}`, le, undefined, num)};\n${I}}\n`;
      }
      return out;
    }
    case 'enum': {
      const e = use(ctx, className(t.name));
      return out + `${I}${v.name}(): ${e} {\n${gate(`${t.nullValue} as ${e}`)}${I}${I}return ${getExpr(t.encoding, at, le)} as ${e};\n${I}}\n`;
    }
    case 'set':
    case 'composite': {
      const cls = use(ctx, `${className(t.name)}Decoder`);
      ctx.members.push(`${I}private readonly _${v.name} = new ${cls}();`);
      return out + `${I}${v.name}(): ${cls}${gated ? ' | null' : ''} {\n${gate('null')}${I}${I}return this._${v.name}.wrap(this._src, ${at});\n${I}}\n`;
    }
  }
}
