/**
 * Part of SbeRuntime.ts (see runtime.ts): 64-bit integers through two 32-bit halves, as
 * bigint, or as number for fields declared jsType="number" (never rounded).
 */
export const INT64_SOURCE = `// 64-bit integers are read and written as two 32-bit halves through the DataView (inlined
// by the optimizing compiler, one bounds check each); DataView.getBigInt64/setBigInt64 and
// byte-by-byte copies are slower on Node 20. Ids, positions and lengths mostly have a zero
// high half: those become BigInt(low half); the others are joined in an 8-byte scratch.
// One small function per byte order, the rare case out of line: the optimizing compiler's
// inlining budget counts bytecode, and every accessor of a message should fit into its
// caller's.
const scratchI64 = new BigInt64Array(1);
const scratchU64 = new BigUint64Array(scratchI64.buffer);
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const scratchLo = new Int32Array(scratchI64.buffer, HOST_LE ? 0 : 4, 1);
const scratchHi = new Int32Array(scratchI64.buffer, HOST_LE ? 4 : 0, 1);
// The null values of optional int64/uint64 fields come back as constants (bigints are
// immutable values): no allocation for the most frequent large value of a control message.
const INT64_NULL = -9223372036854775808n;
const UINT64_NULL = 18446744073709551615n;

export function getInt64LE(view: DataView, at: number): bigint {
  if (view.getInt32(at + 4, true) === 0) return BigInt(view.getUint32(at, true));
  return joinInt64LE(view, at);
}

function joinInt64LE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at + 4, true);
  const lo = view.getInt32(at, true);
  if (hi === -0x80000000 && lo === 0) return INT64_NULL;
  scratchHi[0] = hi;
  scratchLo[0] = lo;
  return scratchI64[0]!;
}

export function getInt64BE(view: DataView, at: number): bigint {
  if (view.getInt32(at, false) === 0) return BigInt(view.getUint32(at + 4, false));
  return joinInt64BE(view, at);
}

function joinInt64BE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at, false);
  const lo = view.getInt32(at + 4, false);
  if (hi === -0x80000000 && lo === 0) return INT64_NULL;
  scratchHi[0] = hi;
  scratchLo[0] = lo;
  return scratchI64[0]!;
}

export function getUint64LE(view: DataView, at: number): bigint {
  if (view.getInt32(at + 4, true) === 0) return BigInt(view.getUint32(at, true));
  return joinUint64LE(view, at);
}

function joinUint64LE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at + 4, true);
  const lo = view.getInt32(at, true);
  if (hi === -1 && lo === -1) return UINT64_NULL;
  scratchHi[0] = hi;
  scratchLo[0] = lo;
  return scratchU64[0]!;
}

export function getUint64BE(view: DataView, at: number): bigint {
  if (view.getInt32(at, false) === 0) return BigInt(view.getUint32(at + 4, false));
  return joinUint64BE(view, at);
}

function joinUint64BE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at, false);
  const lo = view.getInt32(at + 4, false);
  if (hi === -1 && lo === -1) return UINT64_NULL;
  scratchHi[0] = hi;
  scratchLo[0] = lo;
  return scratchU64[0]!;
}

// The half at the higher address is written first: a field past the end of the buffer
// throws before any byte is written.
export function setInt64LE(view: DataView, at: number, value: bigint): void {
  scratchI64[0] = value;
  view.setInt32(at + 4, scratchHi[0]!, true);
  view.setInt32(at, scratchLo[0]!, true);
}

export function setInt64BE(view: DataView, at: number, value: bigint): void {
  scratchI64[0] = value;
  view.setInt32(at + 4, scratchLo[0]!, false);
  view.setInt32(at, scratchHi[0]!, false);
}

export function setUint64LE(view: DataView, at: number, value: bigint): void {
  scratchU64[0] = value;
  view.setInt32(at + 4, scratchHi[0]!, true);
  view.setInt32(at, scratchLo[0]!, true);
}

export function setUint64BE(view: DataView, at: number, value: bigint): void {
  scratchU64[0] = value;
  view.setInt32(at + 4, scratchLo[0]!, false);
  view.setInt32(at, scratchHi[0]!, false);
}

// 64-bit integers declared jsType="number" (docs/SBE-CODEGEN.md): the same two halves, joined
// as hi * 2^32 + lo. A value a double cannot hold exactly is never returned rounded: decoding
// it throws SbeUnsafeIntegerError (a RangeError), and so does encoding a number that is not a
// safe integer. int64 also allows -2^63 (its null value, a power of two, exact as a double).
const TWO_32 = 4294967296;
/** -2^63: the int64 null value as a number (exact). */
export const INT64_NULL_NUMBER = -9223372036854775808;

/** A 64-bit value that a JavaScript number cannot hold exactly, met by a jsType="number" accessor. */
export class SbeUnsafeIntegerError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'SbeUnsafeIntegerError';
  }
}

// Out of line: the slow paths and their messages stay out of the inlined accessors.
function int64NumberSlow(hi: number, lo: number, at: number): number {
  if (hi === -0x80000000 && lo === 0) return INT64_NULL_NUMBER;
  const v = hi * TWO_32 + lo;
  if (Number.isSafeInteger(v)) return v;
  throw new SbeUnsafeIntegerError(\`int64 value \${(BigInt(hi) << 32n) + BigInt(lo)} at byte \${at} is not a safe integer (jsType number)\`);
}

function uint64NumberSlow(hi: number, lo: number, at: number): never {
  throw new SbeUnsafeIntegerError(\`uint64 value \${(BigInt(hi) << 32n) + BigInt(lo)} at byte \${at} is not a safe integer (jsType number)\`);
}

function throwNotInt64Number(value: number, kind: string): never {
  throw new SbeUnsafeIntegerError(\`\${value} is not a safe integer: it cannot be written to an \${kind} field declared jsType number\`);
}

// Ids, positions and counts mostly have a zero high half: that case returns the low half
// and writes it with a zero high half; everything else goes through the out-of-line (checked)
// paths. The fast paths are kept to a few bytecodes on purpose: a message has many such
// fields, and the optimizing compiler inlines a caller's accessors only up to a cumulative
// bytecode budget, so every byte saved here lets more of a message's accessors be inlined.
export function getInt64NumberLE(view: DataView, at: number): number {
  const hi = view.getInt32(at + 4, true);
  return hi === 0 ? view.getUint32(at, true) : int64NumberJoin(hi, view.getUint32(at, true), at);
}

export function getInt64NumberBE(view: DataView, at: number): number {
  const hi = view.getInt32(at, false);
  return hi === 0 ? view.getUint32(at + 4, false) : int64NumberJoin(hi, view.getUint32(at + 4, false), at);
}

export function getUint64NumberLE(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  return hi === 0 ? view.getUint32(at, true) : uint64NumberJoin(hi, view.getUint32(at, true), at);
}

export function getUint64NumberBE(view: DataView, at: number): number {
  const hi = view.getUint32(at, false);
  return hi === 0 ? view.getUint32(at + 4, false) : uint64NumberJoin(hi, view.getUint32(at + 4, false), at);
}

function int64NumberJoin(hi: number, lo: number, at: number): number {
  if (hi > -0x200000 && hi < 0x200000) return hi * TWO_32 + lo;
  return int64NumberSlow(hi, lo, at);
}

function uint64NumberJoin(hi: number, lo: number, at: number): number {
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return uint64NumberSlow(hi, lo, at);
}

// \`(value >>> 0) === value\` holds exactly for the integers 0 .. 2^32-1 (not for NaN, fractions
// or anything larger), the frequent case. \`value | 0\` is the low 32 bits (ToInt32 is modulo
// 2^32), exact for every safe integer. The half at the higher address is written first.
export function setInt64NumberLE(view: DataView, at: number, value: number): void {
  if (value >>> 0 !== value) return setInt64NumberSlow(view, at, value, true);
  view.setInt32(at + 4, 0, true);
  view.setUint32(at, value, true);
}

export function setInt64NumberBE(view: DataView, at: number, value: number): void {
  if (value >>> 0 !== value) return setInt64NumberSlow(view, at, value, false);
  view.setUint32(at + 4, value, false);
  view.setInt32(at, 0, false);
}

export function setUint64NumberLE(view: DataView, at: number, value: number): void {
  if (value >>> 0 !== value) return setUint64NumberSlow(view, at, value, true);
  view.setInt32(at + 4, 0, true);
  view.setUint32(at, value, true);
}

export function setUint64NumberBE(view: DataView, at: number, value: number): void {
  if (value >>> 0 !== value) return setUint64NumberSlow(view, at, value, false);
  view.setUint32(at + 4, value, false);
  view.setInt32(at, 0, false);
}

function setInt64NumberSlow(view: DataView, at: number, value: number, le: boolean): void {
  if (!Number.isSafeInteger(value) && value !== INT64_NULL_NUMBER) throwNotInt64Number(value, 'int64');
  setHalves(view, at, Math.floor(value / TWO_32), value | 0, le);
}

function setUint64NumberSlow(view: DataView, at: number, value: number, le: boolean): void {
  if (!Number.isSafeInteger(value) || value < 0) throwNotInt64Number(value, 'uint64');
  setHalves(view, at, Math.floor(value / TWO_32), value | 0, le);
}

/** Writes hi and lo (32-bit halves) in the byte order, the half at the higher address first. */
function setHalves(view: DataView, at: number, hi: number, lo: number, le: boolean): void {
  if (le) {
    view.setInt32(at + 4, hi, true);
    view.setInt32(at, lo, true);
  } else {
    view.setInt32(at + 4, lo, false);
    view.setInt32(at, hi, false);
  }
}

`;
