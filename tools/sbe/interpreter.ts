/**
 * Decodes and encodes messages of any schema at run time, straight from the IR (no
 * generated code). `decode` produces the JSON shape of SBE's JSON printer: 64-bit integers
 * as decimal strings, enums by name, sets as arrays of choice names, char arrays as strings,
 * var data as text when an encoding is declared (else lower-case hex), groups as arrays,
 * absent (newer than the acting version) and null-valued optional fields as null.
 * `encode` takes the same shape back (64-bit values may also be bigint, binary var data a
 * Uint8Array), so the two are inverses; the tests use them as an oracle for generated code.
 */
import { SbeDecodeError } from './errors.js';
import {
  PRIMITIVES,
  type Block, type CompositeType, type EncodedType, type EnumType, type Field, type Group, type Message, type PrimitiveType,
  type Schema, type SetType, type TypeDef, type VarData,
} from './ir.js';
import { bufferEncoding } from './gen/naming.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

interface Cursor {
  buf: Buffer;
  view: DataView;
  le: boolean;
  limit: number;
  version: number;
}

function need(c: Cursor, end: number, what: string): void {
  if (end > c.buf.length) throw new SbeDecodeError(`${what} ends at byte ${end}, past the end of the input (${c.buf.length} bytes)`);
}

function readPrim(c: Cursor, p: PrimitiveType, at: number): number | bigint {
  const v = c.view;
  const le = c.le;
  need(c, at + PRIMITIVES[p].size, p);
  switch (p) {
    case 'char': case 'uint8': return v.getUint8(at);
    case 'int8': return v.getInt8(at);
    case 'int16': return v.getInt16(at, le);
    case 'uint16': return v.getUint16(at, le);
    case 'int32': return v.getInt32(at, le);
    case 'uint32': return v.getUint32(at, le);
    case 'int64': return v.getBigInt64(at, le);
    case 'uint64': return v.getBigUint64(at, le);
    case 'float': return v.getFloat32(at, le);
    case 'double': return v.getFloat64(at, le);
  }
}

function writePrim(c: Cursor, p: PrimitiveType, at: number, value: number | bigint): void {
  const v = c.view;
  const le = c.le;
  need(c, at + PRIMITIVES[p].size, p);
  const n = Number(value);
  switch (p) {
    case 'char': case 'uint8': v.setUint8(at, n); return;
    case 'int8': v.setInt8(at, n); return;
    case 'int16': v.setInt16(at, n, le); return;
    case 'uint16': v.setUint16(at, n, le); return;
    case 'int32': v.setInt32(at, n, le); return;
    case 'uint32': v.setUint32(at, n, le); return;
    case 'int64': v.setBigInt64(at, BigInt(value), le); return;
    case 'uint64': v.setBigUint64(at, BigInt(value), le); return;
    case 'float': v.setFloat32(at, n, le); return;
    case 'double': v.setFloat64(at, n, le); return;
  }
}

/** The shortest decimal text that reads back as the same float32. */
export function float32Text(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

export function primToJson(p: PrimitiveType, raw: number | bigint): JsonValue {
  if (typeof raw === 'bigint') return raw.toString();
  if (Number.isNaN(raw)) return null;
  if (p === 'float') return float32Text(raw);
  return raw;
}

function isNull(t: EncodedType, raw: number | bigint): boolean {
  if (PRIMITIVES[t.primitiveType].float) return Number.isNaN(Number(raw)) && t.nullValue === 'NaN' || Number(raw) === Number(t.nullValue);
  return BigInt(raw) === BigInt(t.nullValue);
}

function charsToString(c: Cursor, at: number, length: number, enc: string | undefined): string {
  need(c, at + length, 'char array');
  let end = at;
  while (end < at + length && c.buf[end] !== 0) end++;
  return c.buf.toString(bufferEncoding(enc), at, end);
}

function decodeType(c: Cursor, t: TypeDef, at: number, optional: boolean): JsonValue {
  switch (t.kind) {
    case 'type': {
      if (t.presence === 'constant') return constantJson(t);
      if (t.primitiveType === 'char') return charsToString(c, at, t.length, t.characterEncoding);
      const size = PRIMITIVES[t.primitiveType].size;
      if (t.length !== 1) {
        const out: JsonValue[] = [];
        for (let i = 0; i < t.length; i++) out.push(primToJson(t.primitiveType, readPrim(c, t.primitiveType, at + i * size)));
        return out;
      }
      const raw = readPrim(c, t.primitiveType, at);
      if ((optional || t.presence === 'optional') && isNull(t, raw)) return null;
      return primToJson(t.primitiveType, raw);
    }
    case 'enum': {
      const raw = Number(readPrim(c, t.encoding, at));
      const v = t.values.find((x) => x.value === raw);
      if (v) return v.name;
      return raw === t.nullValue ? null : raw;
    }
    case 'set': {
      const raw = BigInt(readPrim(c, t.encoding, at));
      return t.choices.filter((ch) => (raw >> BigInt(ch.bit)) & 1n).map((ch) => ch.name);
    }
    case 'composite': {
      const out: JsonObject = {};
      for (const m of t.members) out[m.name] = decodeType(c, m.type, at + m.offset, false);
      return out;
    }
  }
}

function constantJson(t: EncodedType): JsonValue {
  const cv = t.constValue ?? '';
  if (t.primitiveType === 'char') return cv;
  return primToJson(t.primitiveType, PRIMITIVES[t.primitiveType].big ? BigInt(cv) : Number(cv));
}

function decodeFields(c: Cursor, b: Block, at: number, out: JsonObject): void {
  for (const f of b.fields) {
    if (f.presence === 'constant') {
      out[f.name] = f.constEnumValue ?? decodeType(c, f.type, at, false);
    } else if (f.sinceVersion > c.version) {
      out[f.name] = null;
    } else {
      out[f.name] = decodeType(c, f.type, at + f.offset, f.presence === 'optional');
    }
  }
}

function dimRead(c: Cursor, dim: CompositeType, at: number, name: string): number {
  const m = dim.members.find((x) => x.name === name)!;
  return Number(readPrim(c, (m.type as EncodedType).primitiveType, at + m.offset));
}

const MAX_EMPTY_ELEMENTS = 1 << 20;

function minElementSize(g: Group, blockLength: number, version: number): number {
  let n = blockLength;
  for (const sub of g.groups) if (sub.sinceVersion <= version) n += sub.dimension.size;
  for (const d of g.data) if (d.sinceVersion <= version) n += d.dataOffset;
  return n;
}

function decodeRest(c: Cursor, b: Block, out: JsonObject): void {
  for (const g of b.groups) {
    if (g.sinceVersion > c.version) {
      out[g.name] = null;
      continue;
    }
    const pos = c.limit;
    need(c, pos + g.dimension.size, `group '${g.name}' header`);
    const blockLength = dimRead(c, g.dimension, pos, 'blockLength');
    const count = dimRead(c, g.dimension, pos, 'numInGroup');
    c.limit = pos + g.dimension.size;
    // A corrupt count must not make the decoder spin or fill memory: every element takes at
    // least its block and the headers of its nested groups and var data.
    const remaining = c.buf.length - c.limit;
    const minSize = minElementSize(g, blockLength, c.version);
    if (minSize > 0 ? count * minSize > remaining : count > MAX_EMPTY_ELEMENTS) {
      throw new SbeDecodeError(`group '${g.name}' claims ${count} elements, more than the ${remaining} bytes left can hold`);
    }
    const items: JsonValue[] = [];
    for (let i = 0; i < count; i++) {
      const at = c.limit;
      need(c, at + blockLength, `group '${g.name}' element ${i}`);
      c.limit = at + blockLength;
      const item: JsonObject = {};
      decodeFields(c, g, at, item);
      decodeRest(c, g, item);
      items.push(item);
    }
    out[g.name] = items;
  }
  for (const d of b.data) {
    if (d.sinceVersion > c.version) {
      out[d.name] = null;
      continue;
    }
    const pos = c.limit;
    const length = Number(readPrim(c, d.lengthType, pos + d.lengthOffset));
    const at = pos + d.dataOffset;
    need(c, at + length, `data '${d.name}'`);
    c.limit = at + length;
    out[d.name] = d.characterEncoding !== undefined
      ? c.buf.toString(bufferEncoding(d.characterEncoding), at, at + length)
      : c.buf.toString('hex', at, at + length);
  }
}

export interface DecodedMessage {
  header: JsonObject;
  message: Message;
  value: JsonObject;
  /** Bytes of header plus message. */
  length: number;
}

function cursorOver(schema: Schema, input: Uint8Array, version: number): Cursor {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength), le: schema.byteOrder === 'littleEndian', limit: 0, version };
}

/** Decodes the message (header first) at offset. Throws SbeDecodeError on bad input. */
export function decode(schema: Schema, input: Uint8Array, offset = 0): DecodedMessage {
  const c = cursorOver(schema, input, 0);
  need(c, offset + schema.headerType.size, 'message header');
  const header = decodeType(c, schema.headerType, offset, false) as JsonObject;
  const templateId = Number(header.templateId);
  const message = schema.messages.find((m) => m.id === templateId);
  if (!message) throw new SbeDecodeError(`unknown template id ${templateId}`);
  const schemaId = Number(header.schemaId);
  if (schemaId !== schema.id) throw new SbeDecodeError(`schema id ${schemaId} is not this schema's ${schema.id}`);
  c.version = Number(header.version);
  const blockLength = Number(header.blockLength);
  const at = offset + schema.headerType.size;
  c.limit = at + blockLength;
  need(c, c.limit, `message '${message.name}' block`);
  const value: JsonObject = {};
  decodeFields(c, message, at, value);
  decodeRest(c, message, value);
  return { header, message, value, length: c.limit - offset };
}

/** The JSON printer's object: `$header`, `$message`, then the fields in schema order. */
export function toPrintable(d: DecodedMessage): JsonObject {
  return { $header: d.header, $message: d.message.name, ...d.value };
}

// ---------------------------------------------------------------- encoding

type Input = unknown;

function toBigOrNumber(p: PrimitiveType, v: Input, where: string): number | bigint {
  if (PRIMITIVES[p].big) {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'string' || typeof v === 'number') return BigInt(v);
  } else {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '') return Number(v);
  }
  throw new SbeDecodeError(`${where}: ${String(v)} is not a ${p}`);
}

function encodeType(c: Cursor, t: TypeDef, at: number, v: Input, where: string): void {
  switch (t.kind) {
    case 'type': {
      if (t.presence === 'constant') return;
      if (t.primitiveType === 'char') {
        need(c, at + t.length, where);
        const s = typeof v === 'string' ? v : '';
        const n = s.length ? c.buf.write(s, at, t.length, bufferEncoding(t.characterEncoding)) : 0;
        c.buf.fill(0, at + n, at + t.length);
        return;
      }
      const size = PRIMITIVES[t.primitiveType].size;
      if (t.length !== 1) {
        const arr = Array.isArray(v) ? v : [];
        for (let i = 0; i < t.length; i++) writePrim(c, t.primitiveType, at + i * size, toBigOrNumber(t.primitiveType, arr[i] ?? 0, where));
        return;
      }
      const raw = v === null || v === undefined ? (PRIMITIVES[t.primitiveType].big ? BigInt(t.nullValue) : Number(t.nullValue)) : toBigOrNumber(t.primitiveType, v, where);
      writePrim(c, t.primitiveType, at, raw);
      return;
    }
    case 'enum': return encodeEnum(c, t, at, v, where);
    case 'set': return encodeSet(c, t, at, v, where);
    case 'composite': {
      const obj = (v ?? {}) as Record<string, Input>;
      for (const m of t.members) encodeType(c, m.type, at + m.offset, obj[m.name], `${where}.${m.name}`);
    }
  }
}

function encodeEnum(c: Cursor, t: EnumType, at: number, v: Input, where: string): void {
  let raw: number;
  if (v === null || v === undefined) raw = t.nullValue;
  else if (typeof v === 'number') raw = v;
  else {
    const found = t.values.find((x) => x.name === v);
    if (!found) throw new SbeDecodeError(`${where}: '${String(v)}' is not a value of enum '${t.name}'`);
    raw = found.value;
  }
  writePrim(c, t.encoding, at, raw);
}

function encodeSet(c: Cursor, t: SetType, at: number, v: Input, where: string): void {
  let bits = 0n;
  for (const name of (Array.isArray(v) ? v : []) as string[]) {
    const ch = t.choices.find((x) => x.name === name);
    if (!ch) throw new SbeDecodeError(`${where}: '${name}' is not a choice of set '${t.name}'`);
    bits |= 1n << BigInt(ch.bit);
  }
  writePrim(c, t.encoding, at, PRIMITIVES[t.encoding].big ? bits : Number(bits));
}

function encodeFields(c: Cursor, fields: Field[], at: number, obj: Record<string, Input>, where: string): void {
  for (const f of fields) {
    if (f.presence === 'constant') continue;
    encodeType(c, f.type, at + f.offset, obj[f.name], `${where}.${f.name}`);
  }
}

function writeDim(c: Cursor, dim: CompositeType, at: number, name: string, value: number): void {
  const m = dim.members.find((x) => x.name === name)!;
  writePrim(c, (m.type as EncodedType).primitiveType, at + m.offset, value);
}

function encodeVarData(c: Cursor, d: VarData, v: Input, where: string): void {
  let bytes: Buffer;
  if (v instanceof Uint8Array) bytes = Buffer.from(v);
  else if (typeof v === 'string') bytes = d.characterEncoding !== undefined ? Buffer.from(v, bufferEncoding(d.characterEncoding)) : Buffer.from(v, 'hex');
  else bytes = Buffer.alloc(0);
  if (bytes.length > d.maxLength) throw new SbeDecodeError(`${where}: ${bytes.length} bytes exceed the maximum ${d.maxLength}`);
  const pos = c.limit;
  need(c, pos + d.dataOffset + bytes.length, where);
  writePrim(c, d.lengthType, pos + d.lengthOffset, bytes.length);
  bytes.copy(c.buf, pos + d.dataOffset);
  c.limit = pos + d.dataOffset + bytes.length;
}

function encodeRest(c: Cursor, b: Block, obj: Record<string, Input>, where: string): void {
  for (const g of b.groups) {
    const items = (Array.isArray(obj[g.name]) ? obj[g.name] : []) as Record<string, Input>[];
    const pos = c.limit;
    need(c, pos + g.dimension.size, where);
    writeDim(c, g.dimension, pos, 'blockLength', g.blockLength);
    writeDim(c, g.dimension, pos, 'numInGroup', items.length);
    c.limit = pos + g.dimension.size;
    for (const item of items) {
      const at = c.limit;
      c.limit = at + g.blockLength;
      need(c, c.limit, where);
      c.buf.fill(0, at, c.limit);
      encodeFields(c, g.fields, at, item, `${where}.${g.name}`);
      encodeRest(c, g, item, `${where}.${g.name}`);
    }
  }
  for (const d of b.data) encodeVarData(c, d, obj[d.name], `${where}.${d.name}`);
}

/** Encodes header + message into a new buffer (grown as needed); returns the exact bytes. */
export function encode(schema: Schema, messageName: string, value: Record<string, Input>, capacity = 1 << 16): Buffer {
  const message = schema.messages.find((m) => m.name === messageName);
  if (!message) throw new SbeDecodeError(`no message named '${messageName}'`);
  const c = cursorOver(schema, Buffer.alloc(capacity), schema.version);
  const h = schema.headerType.size;
  // Only the four header fields are written; any other header member stays zero.
  writeDim(c, schema.headerType, 0, 'blockLength', message.blockLength);
  writeDim(c, schema.headerType, 0, 'templateId', message.id);
  writeDim(c, schema.headerType, 0, 'schemaId', schema.id);
  writeDim(c, schema.headerType, 0, 'version', schema.version);
  c.limit = h + message.blockLength;
  need(c, c.limit, messageName);
  encodeFields(c, message.fields, h, value, messageName);
  encodeRest(c, message, value, messageName);
  return Buffer.from(c.buf.subarray(0, c.limit));
}
