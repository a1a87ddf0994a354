/**
 * Test drivers over the IR: fast-check arbitraries producing message values in the JSON
 * shape of the interpreter, and functions that encode/decode such values through the
 * GENERATED flyweights by calling their methods by name (so one property covers every
 * message of a schema).
 */
import fc from 'fast-check';
import {
  PRIMITIVES,
  type Block, type EncodedType, type EnumType, type Message, type Schema, type TypeDef,
} from '../../tools/sbe/ir.js';
import { float32Text, primToJson, type JsonObject, type JsonValue } from '../../tools/sbe/interpreter.js';

type Any = any;
const cls = (n: string): string => n.charAt(0).toUpperCase() + n.slice(1);

const PRINTABLE = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const TEXT_UNIT = fc.oneof(PRINTABLE, fc.constantFrom('é', 'ß', '€', '中', '😀'));

function primitiveArb(t: EncodedType, allowNull: boolean): fc.Arbitrary<JsonValue> {
  const p = t.primitiveType;
  const info = PRIMITIVES[p];
  let arb: fc.Arbitrary<JsonValue>;
  if (info.big && t.jsNumber) {
    // jsType="number": safe integers only (the interpreter's JSON keeps 64-bit values as text)
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    const lo = BigInt(info.signed ? t.minValue : '0');
    const hi = BigInt(t.maxValue);
    const nv = BigInt(t.nullValue);
    arb = fc.bigInt({ min: lo < -safe ? -safe : lo, max: hi > safe ? safe : hi })
      .filter((b) => !(allowNull && b === nv))
      .map((b) => b.toString());
  } else if (info.big) {
    const min = BigInt(info.signed ? t.minValue : '0');
    const max = BigInt(info.maxValue);
    arb = fc.bigInt({ min, max }).map((b) => b.toString());
  } else if (p === 'float') {
    arb = fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => float32Text(x === 0 ? 0 : x));
  } else if (p === 'double') {
    arb = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));
  } else {
    const bits = info.size * 8;
    const lo = info.signed ? -(2 ** (bits - 1)) : 0;
    const hi = info.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const nv = Number(t.nullValue);
    arb = fc.integer({ min: lo, max: hi }).filter((x) => !(allowNull && x === nv));
  }
  return allowNull ? fc.option(arb, { nil: null, freq: 4 }) : arb;
}

function charsArb(length: number, utf8: boolean): fc.Arbitrary<string> {
  const unit = utf8 ? TEXT_UNIT : PRINTABLE;
  return fc.array(unit, { maxLength: length }).map((a) => a.join('')).filter((s) => Buffer.byteLength(s, utf8 ? 'utf8' : 'latin1') <= length);
}

function constJson(t: EncodedType): JsonValue {
  if (t.primitiveType === 'char') return t.constValue ?? '';
  return primToJson(t.primitiveType, PRIMITIVES[t.primitiveType].big ? BigInt(t.constValue!) : Number(t.constValue));
}

function enumArb(t: EnumType): fc.Arbitrary<JsonValue> {
  const bits = PRIMITIVES[t.encoding].size * 8;
  const signed = PRIMITIVES[t.encoding].signed && t.encoding !== 'char';
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const known = new Set(t.values.map((v) => v.value));
  const unknown = fc.integer({ min: lo, max: hi }).filter((x) => !known.has(x) && x !== t.nullValue);
  return fc.oneof({ arbitrary: fc.constantFrom(...t.values.map((v) => v.name)), weight: 4 }, { arbitrary: unknown, weight: 1 });
}

export function typeArb(t: TypeDef, optional: boolean): fc.Arbitrary<JsonValue> {
  switch (t.kind) {
    case 'type': {
      if (t.presence === 'constant') return fc.constant(constJson(t));
      if (t.primitiveType === 'char') return charsArb(t.length, (t.characterEncoding ?? '').toUpperCase() === 'UTF-8');
      if (t.length !== 1) return fc.array(primitiveArb(t, false), { minLength: t.length, maxLength: t.length });
      return primitiveArb(t, optional || t.presence === 'optional');
    }
    case 'enum': return enumArb(t);
    case 'set': return fc.subarray(t.choices.map((c) => c.name)).map((a) => a as JsonValue);
    case 'composite': {
      const rec: Record<string, fc.Arbitrary<JsonValue>> = {};
      for (const m of t.members) rec[m.name] = typeArb(m.type, false);
      return fc.record(rec) as fc.Arbitrary<JsonValue>;
    }
  }
}

export function blockArb(b: Block): fc.Arbitrary<JsonObject> {
  const rec: Record<string, fc.Arbitrary<JsonValue>> = {};
  for (const f of b.fields) {
    rec[f.name] = f.presence === 'constant' && f.constEnumValue !== undefined ? fc.constant(f.constEnumValue) : typeArb(f.type, f.presence === 'optional');
  }
  for (const g of b.groups) rec[g.name] = fc.array(blockArb(g), { maxLength: 3 }) as fc.Arbitrary<JsonValue>;
  for (const d of b.data) {
    if (d.characterEncoding === undefined) rec[d.name] = fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u).toString('hex'));
    else if ((d.characterEncoding ?? '').toUpperCase() === 'UTF-8') rec[d.name] = fc.array(TEXT_UNIT, { maxLength: 20 }).map((a) => a.join('')).filter((s) => Buffer.byteLength(s) <= Math.min(d.maxLength, 1000));
    else rec[d.name] = fc.array(PRINTABLE, { maxLength: 20 }).map((a) => a.join(''));
  }
  return fc.record(rec) as fc.Arbitrary<JsonObject>;
}

// ------------------------------------------------------------ generated-code drivers

function rawOfScalar(t: EncodedType, v: JsonValue): number | bigint {
  const big = PRIMITIVES[t.primitiveType].big;
  if (big && t.jsNumber) return Number(BigInt(v === null ? t.nullValue : (v as string)));
  if (v === null) return big ? BigInt(t.nullValue) : Number(t.nullValue);
  return big ? BigInt(v as string) : (v as number);
}

/** A value read through a generated accessor, in the interpreter's JSON shape. */
function jsonOf(t: EncodedType, raw: number | bigint): JsonValue {
  if (t.jsNumber) {
    if (typeof raw !== 'number') throw new Error(`jsType number field returned ${typeof raw}`);
    return String(raw);
  }
  return primToJson(t.primitiveType, raw);
}

function writeValue(mod: Any, fw: Any, name: string, t: TypeDef, v: JsonValue): void {
  switch (t.kind) {
    case 'type':
      if (t.presence === 'constant') return;
      if (t.primitiveType === 'char') fw[name](v as string);
      else if (t.length !== 1) (v as JsonValue[]).forEach((x, i) => fw[name](i, rawOfScalar(t, x)));
      else fw[name](rawOfScalar(t, v));
      return;
    case 'enum': fw[name](typeof v === 'number' ? v : mod[cls(t.name)][v as string]); return;
    case 'set': {
      const s = fw[name]().clear();
      for (const c of t.choices) s[c.name]((v as string[]).includes(c.name));
      return;
    }
    case 'composite': {
      const c = fw[name]();
      for (const m of t.members) writeValue(mod, c, m.name, m.type, (v as JsonObject)[m.name]!);
    }
  }
}

function writeBlock(mod: Any, fw: Any, b: Block, v: JsonObject): void {
  for (const f of b.fields) if (f.presence !== 'constant') writeValue(mod, fw, f.name, f.type, v[f.name]!);
  for (const g of b.groups) {
    const items = v[g.name] as JsonObject[];
    const ge = fw[`${g.name}Count`](items.length);
    for (const item of items) writeBlock(mod, ge.next(), g, item);
  }
  for (const d of b.data) fw[d.name](d.characterEncoding === undefined ? Buffer.from(v[d.name] as string, 'hex') : (v[d.name] as string));
}

/** Encodes header + message with the generated encoder; returns the bytes. */
export function encodeGenerated(mod: Any, m: Message, v: JsonObject, buf: Buffer): Buffer {
  const enc = new mod[`${cls(m.name)}Encoder`]().wrapAndApplyHeader(buf, 0, new mod.MessageHeaderEncoder());
  writeBlock(mod, enc, m, v);
  return buf.subarray(0, mod.MessageHeaderEncoder.ENCODED_LENGTH + enc.encodedLength());
}

function readValue(mod: Any, fw: Any, name: string, t: TypeDef, optional: boolean): JsonValue {
  switch (t.kind) {
    case 'type': {
      if (t.primitiveType === 'char') return fw[name]();
      if (t.presence === 'constant') return jsonOf(t, fw[name]());
      if (t.length !== 1) return Array.from({ length: t.length }, (_, i) => jsonOf(t, fw[name](i)));
      const raw = fw[name]();
      if ((optional || t.presence === 'optional') && rawOfScalar(t, null) === raw) return null;
      if (PRIMITIVES[t.primitiveType].float && Number.isNaN(raw) && optional) return null;
      return jsonOf(t, raw);
    }
    case 'enum': {
      const raw = fw[name]() as number;
      const known = t.values.find((x) => x.value === raw);
      if (known) {
        if (mod[cls(t.name)][known.name] !== raw) throw new Error(`enum ${t.name}.${known.name} is not ${raw} in generated code`);
        return known.name;
      }
      return raw === t.nullValue ? null : raw;
    }
    case 'set': {
      const s = fw[name]();
      return t.choices.filter((c) => s[c.name]()).map((c) => c.name);
    }
    case 'composite': {
      const c = fw[name]();
      const out: JsonObject = {};
      for (const m of t.members) out[m.name] = readValue(mod, c, m.name, m.type, false);
      return out;
    }
  }
}

function readBlock(mod: Any, fw: Any, b: Block, useIterator: boolean): JsonObject {
  const out: JsonObject = {};
  for (const f of b.fields) {
    if (f.sinceVersion > 0 && f.presence !== 'constant' && !fw[`${f.name}InActingVersion`]()) {
      out[f.name] = null;
      continue;
    }
    out[f.name] = f.presence === 'constant' && f.constEnumValue !== undefined
      ? (() => { const t = f.type as EnumType; const raw = fw[f.name](); return t.values.find((x) => x.value === raw)!.name; })()
      : readValue(mod, fw, f.name, f.type, f.presence === 'optional');
  }
  for (const g of b.groups) {
    if (g.sinceVersion > 0 && !fw[`${g.name}InActingVersion`]()) {
      expect0(fw[g.name]().count());
      out[g.name] = null;
      continue;
    }
    const gd = fw[g.name]();
    const items: JsonValue[] = [];
    if (useIterator) for (const e of gd) items.push(readBlock(mod, e, g, useIterator));
    else while (gd.hasNext()) items.push(readBlock(mod, gd.next(), g, useIterator));
    out[g.name] = items;
  }
  for (const d of b.data) {
    const v = fw[d.name]();
    out[d.name] = v === null ? null : d.characterEncoding === undefined ? Buffer.from(v as Uint8Array).toString('hex') : (v as string);
  }
  return out;
}

function expect0(n: number): void {
  if (n !== 0) throw new Error(`absent group has ${n} elements`);
}

/** Decodes header + message with the generated decoder; returns the value and the bytes consumed. */
export function decodeGenerated(mod: Any, m: Message, bytes: Uint8Array, useIterator = false): { value: JsonObject; length: number } {
  const dec = new mod[`${cls(m.name)}Decoder`]().wrapAndApplyHeader(bytes, 0, new mod.MessageHeaderDecoder());
  const value = readBlock(mod, dec, m, useIterator);
  return { value, length: mod.MessageHeaderDecoder.ENCODED_LENGTH + dec.encodedLength() };
}

/** The schema as it was at an older version: newer elements removed, block lengths recomputed. */
export function schemaAtVersion(schema: Schema, version: number): Schema {
  const cut = <B extends Block>(b: B): B => {
    const fields = b.fields.filter((f) => f.sinceVersion <= version);
    let end = 0;
    for (const f of fields) if (f.presence !== 'constant') end = Math.max(end, f.offset + f.type.size);
    return { ...b, fields, blockLength: end, groups: b.groups.filter((g) => g.sinceVersion <= version).map(cut), data: b.data.filter((d) => d.sinceVersion <= version) };
  };
  return { ...schema, version, messages: schema.messages.map(cut) };
}
