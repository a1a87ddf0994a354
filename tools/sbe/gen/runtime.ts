/**
 * The source of `SbeRuntime.ts`, written beside every generated codec set so generated code
 * depends on nothing outside its directory. It caches one DataView and one Buffer per
 * wrapped Uint8Array (the view covers exactly that array, so every read or write past its
 * end throws a RangeError), and holds the string helpers the flyweights share.
 */
export const RUNTIME_FILE = 'SbeRuntime';

const SHORT_TEXT = 32;
const ASCII_CHECK_MAX = 256;

function fromBytesCases(): string {
  const cases: string[] = [];
  for (let n = 0; n <= SHORT_TEXT; n++) {
    const args = Array.from({ length: n }, (_, i) => (i === 0 ? 'b[at]!' : `b[at + ${i}]!`));
    cases.push(`    case ${n}: return ${n === 0 ? "''" : `String.fromCharCode(${args.join(', ')})`};`);
  }
  return cases.join('\n');
}

export const RUNTIME_SOURCE = `/**
 * Shared helpers of the generated flyweights. Each flyweight remembers the last array it
 * wrapped with its DataView and Buffer, so re-wrapping the same array allocates nothing.
 * Views cover exactly the wrapped array: any access past its end throws a RangeError.
 */

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
export const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(0));

// Where the views come from. A DataView costs a few hundred ns to create on Node 20 (a C++
// builtin), so:
// - arrays of 64 KiB or more (mapped files, the 64 KiB send buffers of proxies: larger
//   than any UDP datagram) keep their view in a WeakMap, for flyweights created per use or
//   moving between a few arrays (weakly: a mapping must stay free to be unmapped);
// - smaller arrays are mostly received datagrams, each a fresh Buffer, for which a WeakMap
//   entry is never reused and costs more (set, then garbage collection) than it saves
//   (decoding a fresh datagram was 2x slower with it, measured). The last one and its view
//   are kept here instead: a message header and its message, wrapped on the same datagram
//   one after the other, share one view.
const LARGE = 65_536;
const views = new WeakMap<Uint8Array, DataView>();
const buffers = new WeakMap<Uint8Array, Buffer>();
let lastArray: Uint8Array = EMPTY_BUFFER;
let lastView: DataView = EMPTY_VIEW;

export function viewOf(array: Uint8Array): DataView {
  if (array === lastArray) return lastView;
  if (array.byteLength >= LARGE) {
    let view = views.get(array);
    if (view === undefined) {
      view = new DataView(array.buffer, array.byteOffset, array.byteLength);
      views.set(array, view);
    }
    return view;
  }
  lastArray = array;
  lastView = new DataView(array.buffer, array.byteOffset, array.byteLength);
  return lastView;
}

export function bufferOf(array: Uint8Array): Buffer {
  if (Buffer.isBuffer(array)) return array;
  let buf = array.byteLength >= LARGE ? buffers.get(array) : undefined;
  if (buf === undefined) {
    buf = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    if (array.byteLength >= LARGE) buffers.set(array, buf);
  }
  return buf;
}

/**
 * The iterator of a group decoder (for ... of): one per group flyweight, reused, since the
 * iteration state (count, index) is the group's own.
 */
export class SbeGroupIterator<T extends { hasNext(): boolean; next(): T }> implements Iterator<T> {
  constructor(private readonly group: T) {}

  next(): IteratorResult<T> {
    return this.group.hasNext() ? { value: this.group.next(), done: false } : { value: undefined, done: true };
  }
}

/** What groups and var data share with their message: the buffer and the running limit. */
export interface SbeCursor {
  _src: Uint8Array;
  _buf: Buffer;
  _view: DataView;
  _limit: number;
}

// 64-bit integers are read and written as two 32-bit halves through the DataView (inlined
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
// and writes it with a zero high half, the rest goes through the general (checked) paths.
export function getInt64NumberLE(view: DataView, at: number): number {
  const lo = view.getUint32(at, true);
  const hi = view.getInt32(at + 4, true);
  if (hi === 0) return lo;
  if (hi > -0x200000 && hi < 0x200000) return hi * TWO_32 + lo;
  return int64NumberSlow(hi, lo, at);
}

export function getInt64NumberBE(view: DataView, at: number): number {
  const lo = view.getUint32(at + 4, false);
  const hi = view.getInt32(at, false);
  if (hi === 0) return lo;
  if (hi > -0x200000 && hi < 0x200000) return hi * TWO_32 + lo;
  return int64NumberSlow(hi, lo, at);
}

export function getUint64NumberLE(view: DataView, at: number): number {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  if (hi === 0) return lo;
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return uint64NumberSlow(hi, lo, at);
}

export function getUint64NumberBE(view: DataView, at: number): number {
  const lo = view.getUint32(at + 4, false);
  const hi = view.getUint32(at, false);
  if (hi === 0) return lo;
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return uint64NumberSlow(hi, lo, at);
}

// \`(value >>> 0) === value\` holds exactly for the integers 0 .. 2^32-1 (not for NaN, fractions
// or anything larger), the frequent case. \`value | 0\` is the low 32 bits (ToInt32 is modulo
// 2^32), exact for every safe integer. The half at the higher address is written first.
export function setInt64NumberLE(view: DataView, at: number, value: number): void {
  if (value >>> 0 === value) {
    view.setInt32(at + 4, 0, true);
    view.setInt32(at, value | 0, true);
    return;
  }
  if (!Number.isSafeInteger(value) && value !== INT64_NULL_NUMBER) throwNotInt64Number(value, 'int64');
  view.setInt32(at + 4, Math.floor(value / TWO_32), true);
  view.setInt32(at, value | 0, true);
}

export function setInt64NumberBE(view: DataView, at: number, value: number): void {
  if (value >>> 0 === value) {
    view.setInt32(at + 4, value | 0, false);
    view.setInt32(at, 0, false);
    return;
  }
  if (!Number.isSafeInteger(value) && value !== INT64_NULL_NUMBER) throwNotInt64Number(value, 'int64');
  view.setInt32(at + 4, value | 0, false);
  view.setInt32(at, Math.floor(value / TWO_32), false);
}

export function setUint64NumberLE(view: DataView, at: number, value: number): void {
  if (value >>> 0 === value) {
    view.setInt32(at + 4, 0, true);
    view.setInt32(at, value | 0, true);
    return;
  }
  if (!Number.isSafeInteger(value) || value < 0) throwNotInt64Number(value, 'uint64');
  view.setInt32(at + 4, Math.floor(value / TWO_32), true);
  view.setInt32(at, value | 0, true);
}

export function setUint64NumberBE(view: DataView, at: number, value: number): void {
  if (value >>> 0 === value) {
    view.setInt32(at + 4, value | 0, false);
    view.setInt32(at, 0, false);
    return;
  }
  if (!Number.isSafeInteger(value) || value < 0) throwNotInt64Number(value, 'uint64');
  view.setInt32(at + 4, value | 0, false);
  view.setInt32(at, Math.floor(value / TWO_32), false);
}

/** Thrown by decoders' wrapAndApplyHeader (out of line, to keep it small). */
export function throwWrongTemplate(templateId: number, expected: number, name: string): never {
  throw new RangeError(\`template id \${templateId} is not \${name} (\${expected})\`);
}

export function checkLimit(buf: Buffer, limit: number, what: string): void {
  if (limit > buf.length) throwPastEnd(buf, limit, what);
}

// Out of line: the message text would make checkLimit too big to inline everywhere.
function throwPastEnd(buf: Buffer, limit: number, what: string): never {
  throw new RangeError(\`\${what} ends at \${limit}, past the end of the buffer (\${buf.length} bytes)\`);
}

interface NativeSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}
const native = Buffer.prototype as unknown as Partial<NativeSlices>;
const hasNativeSlices = typeof native.utf8Slice === 'function' && typeof native.latin1Slice === 'function';

/** Text up to this many bytes is built in JavaScript (see fromBytes). */
const SHORT_TEXT = ${SHORT_TEXT};
/** UTF-8 text up to this many bytes is checked for ASCII, which Latin-1 decodes faster. */
const ASCII_CHECK_MAX = ${ASCII_CHECK_MAX};

// Short ASCII text is cached, both ways. Control messages carry the same few texts over and
// over (channel names, destinations, sources, aliases), and a decoder that finds the bytes it
// decoded last time returns the same string instead of building a new one, and an encoder
// given a string it wrote before copies its bytes a word at a time instead of char by char.
// Direct-mapped (a slot per hash of the length and three characters), verified in full on
// every hit (the bytes word by word; the string by ===), so a collision only costs a miss.
// Only ASCII text is kept: its bytes read the same in UTF-8 and Latin-1. Strings are
// immutable, so handing out the cached one is indistinguishable from a fresh copy.
const TEXT_CACHE_SLOTS = 256;
/** Longest text the caches keep (bytes), in 32-bit words. */
const TEXT_CACHE_WORDS = 16;
const TEXT_CACHE_MAX = TEXT_CACHE_WORDS * 4;
const decodedText: string[] = new Array<string>(TEXT_CACHE_SLOTS).fill('');
const decodedLength = new Int32Array(TEXT_CACHE_SLOTS).fill(-1);
const decodedWords = new Int32Array(TEXT_CACHE_SLOTS * TEXT_CACHE_WORDS);
const encodedText: string[] = new Array<string>(TEXT_CACHE_SLOTS).fill('');
const encodedWords = new Int32Array(TEXT_CACHE_SLOTS * TEXT_CACHE_WORDS);

function textSlot(length: number, first: number, middle: number, last: number): number {
  return (length * 31 + first * 7 + middle * 3 + last * 13) & (TEXT_CACHE_SLOTS - 1);
}

/** The bytes [start, end) past the last whole word, little-endian in one int. */
function tailWord(buf: Buffer, from: number, end: number): number {
  let tail = 0;
  for (let shift = 0; from < end; from++, shift += 8) tail |= buf[from]! << shift;
  return tail;
}

/** Copies bytes [start, end) (at most TEXT_CACHE_MAX) into a cache slot's words. */
function keepWords(words: Int32Array, slot: number, buf: Buffer, view: DataView, start: number, end: number): void {
  let w = slot * TEXT_CACHE_WORDS;
  let i = start;
  for (; i + 4 <= end; i += 4) words[w++] = view.getInt32(i, true);
  words[w] = tailWord(buf, i, end);
}

/** The cached string for bytes [start, end) (1..TEXT_CACHE_MAX of them), or undefined. */
function cachedDecode(buf: Buffer, view: DataView, slot: number, start: number, end: number): string | undefined {
  if (decodedLength[slot] !== end - start) return undefined;
  let w = slot * TEXT_CACHE_WORDS;
  let i = start;
  for (; i + 4 <= end; i += 4) if (view.getInt32(i, true) !== decodedWords[w++]) return undefined;
  return tailWord(buf, i, end) === decodedWords[w] ? decodedText[slot] : undefined;
}

/** Decodes short text [start, end) (1..TEXT_CACHE_MAX bytes) through the cache. */
function decodeShort(buf: Buffer, view: DataView, start: number, end: number, utf8: boolean): string {
  const length = end - start;
  const slot = textSlot(length, buf[start]!, buf[start + (length >> 1)]!, buf[end - 1]!);
  const hit = cachedDecode(buf, view, slot, start, end);
  if (hit !== undefined) return hit;
  if (!isAscii(buf, view, start, end)) return utf8 ? sliceUtf8(buf, start, end) : sliceLatin1(buf, start, end);
  const text = length <= SHORT_TEXT ? fromBytes(buf, start, length) : sliceLatin1(buf, start, end);
  decodedText[slot] = text;
  decodedLength[slot] = length;
  keepWords(decodedWords, slot, buf, view, start, end);
  return text;
}

/** True when bytes [start, end) are all below 0x80; reads 4 bytes at a time. */
function isAscii(buf: Buffer, view: DataView, start: number, end: number): boolean {
  let bits = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) bits |= view.getInt32(i, true);
  for (; i < end; i++) bits |= buf[i]!;
  return (bits & 0x80808080) === 0;
}

function sliceLatin1(buf: Buffer, start: number, end: number): string {
  return hasNativeSlices ? (buf as unknown as NativeSlices).latin1Slice(start, end) : buf.toString('latin1', start, end);
}

function sliceUtf8(buf: Buffer, start: number, end: number): string {
  return hasNativeSlices ? (buf as unknown as NativeSlices).utf8Slice(start, end) : buf.toString('utf8', start, end);
}

/**
 * Decodes UTF-8 bytes [start, end) (the caller has checked they are inside the buffer).
 * Text up to ${SHORT_TEXT * 2} bytes goes through the cache above; new short ASCII text is built by
 * one String.fromCharCode call (on Node 20 1.3 to 2.5 times faster than a call into the
 * native decoder for up to ${SHORT_TEXT} bytes). Longer ASCII text is decoded as Latin-1 (the same
 * characters, a faster native decoder).
 */
export function getUtf8(buf: Buffer, view: DataView, start: number, end: number): string {
  const length = end - start;
  if (length <= TEXT_CACHE_MAX) return length === 0 ? '' : decodeShort(buf, view, start, end, true);
  if (length <= ASCII_CHECK_MAX && isAscii(buf, view, start, end)) return sliceLatin1(buf, start, end);
  return sliceUtf8(buf, start, end);
}

/** Decodes Latin-1 bytes [start, end) (inside the buffer); short text as getUtf8 does. */
export function getLatin1(buf: Buffer, view: DataView, start: number, end: number): string {
  const length = end - start;
  if (length <= TEXT_CACHE_MAX) return length === 0 ? '' : decodeShort(buf, view, start, end, false);
  return sliceLatin1(buf, start, end);
}

/** Decodes bytes [start, end) (inside the buffer) in any encoding. */
export function getText(buf: Buffer, view: DataView, start: number, end: number, encoding: BufferEncoding): string {
  if (encoding === 'utf8') return getUtf8(buf, view, start, end);
  if (encoding === 'latin1') return getLatin1(buf, view, start, end);
  return buf.toString(encoding, start, end);
}

/** Reads a NUL-padded char array: stops at the first NUL. */
export function getChars(buf: Buffer, view: DataView, at: number, length: number, encoding: BufferEncoding): string {
  const limit = at + length;
  checkLimit(buf, limit, 'char array');
  let end = at;
  while (end < limit && buf[end] !== 0) end++;
  return getText(buf, view, at, end, encoding);
}

/** Writes a char array: truncated to its length, NUL-padded. */
export function putChars(buf: Buffer, at: number, length: number, value: string, encoding: BufferEncoding): void {
  const limit = at + length;
  checkLimit(buf, limit, 'char array');
  const n = value.length === 0 ? 0 : buf.write(value, at, length, encoding);
  if (at + n < limit) buf.fill(0, at + n, limit);
}

export function copyBytes(buf: Buffer, at: number, length: number, dst: Uint8Array, dstOffset: number): number {
  checkLimit(buf, at + length, 'field');
  const n = Math.min(length, dst.length - dstOffset);
  dst.set(buf.subarray(at, at + n), dstOffset);
  return n;
}

export function putBytes(buf: Buffer, at: number, length: number, src: Uint8Array, srcOffset: number): void {
  checkLimit(buf, at + length, 'field');
  const n = Math.min(length, src.length - srcOffset);
  buf.set(src.subarray(srcOffset, srcOffset + n), at);
  if (n < length) buf.fill(0, at + n, at + length);
}

/** Writes var data bytes at offset at; returns their length. Throws before writing if they do not fit. */
export function putVarData(buf: Buffer, view: DataView, at: number, value: string | Uint8Array, encoding: BufferEncoding, max: number): number {
  if (typeof value === 'string' && encoding !== 'utf16le') {
    const n = putShortAscii(buf, view, at, value, max);
    if (n >= 0) return n;
  }
  return putVarDataSlow(buf, at, value, encoding, max);
}

/**
 * Short ASCII text is copied in JavaScript (cheaper than a call into the native encoder),
 * from the cache above when it was written before. Returns -1 (having written nothing that
 * matters) when the text is long, not ASCII or does not fit.
 */
function putShortAscii(buf: Buffer, view: DataView, at: number, value: string, max: number): number {
  const len = value.length;
  if (len > TEXT_CACHE_MAX || len > max || at + len > buf.length) return -1;
  if (len === 0) return 0;
  const slot = textSlot(len, value.charCodeAt(0), value.charCodeAt(len >> 1), value.charCodeAt(len - 1));
  if (encodedText[slot] === value) {
    let w = slot * TEXT_CACHE_WORDS;
    let i = 0;
    for (; i + 4 <= len; i += 4) view.setInt32(at + i, encodedWords[w++]!, true);
    for (let tail = encodedWords[w]!; i < len; i++, tail >>>= 8) buf[at + i] = tail & 0xff;
    return len;
  }
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[at + i] = c;
  }
  encodedText[slot] = value;
  keepWords(encodedWords, slot, buf, view, at, at + len);
  return len;
}

function putVarDataSlow(buf: Buffer, at: number, value: string | Uint8Array, encoding: BufferEncoding, max: number): number {
  const room = buf.length - at;
  if (typeof value === 'string') {
    // A UTF-8 string takes at most 3 bytes per UTF-16 unit: skip measuring when it surely fits.
    const bound = value.length * 3;
    if (bound <= room && bound <= max) return value.length === 0 ? 0 : buf.write(value, at, encoding);
    const n = Buffer.byteLength(value, encoding);
    if (n > max) throw new RangeError(\`var data of \${n} bytes exceeds its maximum length \${max}\`);
    if (n > room) throw new RangeError(\`var data of \${n} bytes does not fit the buffer (\${room} bytes left)\`);
    return buf.write(value, at, encoding);
  }
  if (value.length > max) throw new RangeError(\`var data of \${value.length} bytes exceeds its maximum length \${max}\`);
  if (value.length > room) throw new RangeError(\`var data of \${value.length} bytes does not fit the buffer (\${room} bytes left)\`);
  buf.set(value, at);
  return value.length;
}

/**
 * The string of byte values [at, at + length) as character codes (length <= ${SHORT_TEXT}): one
 * fixed-arity String.fromCharCode call per length, which allocates the string once.
 */
function fromBytes(b: Buffer, at: number, length: number): string {
  switch (length) {
${fromBytesCases()}
  }
  throw new RangeError(\`text of \${length} bytes is not short\`);
}
`;
