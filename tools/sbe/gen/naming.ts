/** Names and literals shared by the emitters. */
import { PRIMITIVES, type PrimitiveType } from '../ir.js';

export function className(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** `num`: a 64-bit integer declared jsType="number". */
export function tsType(p: PrimitiveType, num = false): string {
  return PRIMITIVES[p].big && !num ? 'bigint' : 'number';
}

export function literal(p: PrimitiveType, value: string | number, num = false): string {
  const s = String(value);
  if (PRIMITIVES[p].big) return num ? `${BigInt(s)}` : `${BigInt(s)}n`;
  if (s === 'NaN') return 'NaN';
  return String(Number(s));
}

const ACCESS: Record<PrimitiveType, string> = {
  char: 'Uint8', int8: 'Int8', uint8: 'Uint8', int16: 'Int16', uint16: 'Uint16', int32: 'Int32', uint32: 'Uint32',
  int64: 'BigInt64', uint64: 'BigUint64', float: 'Float32', double: 'Float64',
};

const BIG_ACCESS: Partial<Record<PrimitiveType, string>> = { int64: 'Int64', uint64: 'Uint64' };

/**
 * `this._view.getX(at, le)` (no byte order argument for single bytes); 64-bit integers use
 * the runtime's getInt64/getUint64 over the same DataView (`view` names it), or
 * getInt64Number/getUint64Number for a field declared jsType="number" (`num`).
 */
export function getExpr(p: PrimitiveType, at: string, le: boolean, view = 'this._view', num = false): string {
  const big = BIG_ACCESS[p];
  if (big !== undefined) return `get${big}${num ? 'Number' : ''}${le ? 'LE' : 'BE'}(${view}, ${at})`;
  return PRIMITIVES[p].size === 1 ? `${view}.get${ACCESS[p]}(${at})` : `${view}.get${ACCESS[p]}(${at}, ${le})`;
}

export function setStmt(p: PrimitiveType, at: string, value: string, le: boolean, view = 'this._view', num = false): string {
  const big = BIG_ACCESS[p];
  if (big !== undefined) return `set${big}${num ? 'Number' : ''}${le ? 'LE' : 'BE'}(${view}, ${at}, ${value});`;
  return PRIMITIVES[p].size === 1 ? `${view}.set${ACCESS[p]}(${at}, ${value});` : `${view}.set${ACCESS[p]}(${at}, ${value}, ${le});`;
}

/** Runtime helpers a generated body may call; assemble() imports those it finds. */
export const RUNTIME_HELPERS = [
  'getInt64LE', 'getInt64BE', 'getUint64LE', 'getUint64BE', 'setInt64LE', 'setInt64BE', 'setUint64LE', 'setUint64BE',
  'getInt64NumberLE', 'getInt64NumberBE', 'getUint64NumberLE', 'getUint64NumberBE', 'setInt64NumberLE', 'setInt64NumberBE',
  'setUint64NumberLE', 'setUint64NumberBE', 'checkLimit', 'getChars', 'putChars', 'copyBytes', 'putBytes',
  'putVarData', 'getText', 'getUtf8', 'getLatin1', 'throwWrongTemplate',
];

/** Node's Buffer encoding for an SBE characterEncoding (chars default to ASCII). */
export function bufferEncoding(characterEncoding: string | undefined): 'latin1' | 'utf8' | 'utf16le' {
  const e = (characterEncoding ?? 'US-ASCII').trim().toUpperCase().replace(/[_ ]/g, '-');
  if (e === 'UTF-8' || e === 'UTF8') return 'utf8';
  if (e === 'UTF-16LE' || e === 'UTF-16') return 'utf16le';
  if (['US-ASCII', 'ASCII', 'ISO-8859-1', 'ISO8859-1', 'LATIN1', 'LATIN-1', 'WINDOWS-1252', 'CP1252'].includes(e)) return 'latin1';
  return 'utf8';
}

export function jsdoc(lines: (string | undefined)[], indent: string): string {
  const text = lines.filter((l): l is string => !!l).map((l) => l.replace(/\*\//g, '* /').replace(/\s+/g, ' ').trim());
  if (text.length === 0) return '';
  if (text.length === 1) return `${indent}/** ${text[0]} */\n`;
  return `${indent}/**\n${text.map((t) => `${indent} * ${t}`).join('\n')}\n${indent} */\n`;
}

export function stringLiteral(s: string): string {
  return JSON.stringify(s);
}
