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
 * Shared helpers of the generated flyweights. A DataView and a Buffer are cached per wrapped
 * Uint8Array, and each flyweight also remembers the last array it wrapped, so re-wrapping the
 * same buffer allocates nothing. Views cover exactly the wrapped array: any access past its
 * end throws a RangeError.
 */

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
export const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(0));

const views = new WeakMap<Uint8Array, DataView>();
const buffers = new WeakMap<Uint8Array, Buffer>();

export function viewOf(array: Uint8Array): DataView {
  let view = views.get(array);
  if (view === undefined) {
    view = new DataView(array.buffer, array.byteOffset, array.byteLength);
    views.set(array, view);
  }
  return view;
}

export function bufferOf(array: Uint8Array): Buffer {
  if (Buffer.isBuffer(array)) return array;
  let buf = buffers.get(array);
  if (buf === undefined) {
    buf = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    buffers.set(array, buf);
  }
  return buf;
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
// Each helper is one small function per byte order with no nested calls: the optimizing
// compiler's inlining budget counts bytecode, and every accessor of a message should fit
// into its caller's.
const scratchI64 = new BigInt64Array(1);
const scratchU64 = new BigUint64Array(scratchI64.buffer);
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const scratchLo = new Int32Array(scratchI64.buffer, HOST_LE ? 0 : 4, 1);
const scratchHi = new Int32Array(scratchI64.buffer, HOST_LE ? 4 : 0, 1);

export function getInt64LE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at + 4, true);
  if (hi === 0) return BigInt(view.getUint32(at, true));
  scratchHi[0] = hi;
  scratchLo[0] = view.getInt32(at, true);
  return scratchI64[0]!;
}

export function getInt64BE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at, false);
  if (hi === 0) return BigInt(view.getUint32(at + 4, false));
  scratchHi[0] = hi;
  scratchLo[0] = view.getInt32(at + 4, false);
  return scratchI64[0]!;
}

export function getUint64LE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at + 4, true);
  if (hi === 0) return BigInt(view.getUint32(at, true));
  scratchHi[0] = hi;
  scratchLo[0] = view.getInt32(at, true);
  return scratchU64[0]!;
}

export function getUint64BE(view: DataView, at: number): bigint {
  const hi = view.getInt32(at, false);
  if (hi === 0) return BigInt(view.getUint32(at + 4, false));
  scratchHi[0] = hi;
  scratchLo[0] = view.getInt32(at + 4, false);
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

/** True when bytes [start, end) are all below 0x80; reads 4 bytes at a time. */
function isAscii(buf: Buffer, view: DataView, start: number, end: number): boolean {
  let bits = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) bits |= view.getInt32(i, true);
  for (; i < end; i++) bits |= buf[i]!;
  return (bits & 0x80808080) === 0;
}

/**
 * Decodes bytes [start, end) as text (the caller has checked they are inside the buffer).
 * Short Latin-1 and short ASCII UTF-8 text is built by one String.fromCharCode call: on
 * Node 20 that is 1.5 to 2.5 times faster than a call into the native decoder for up to
 * ${SHORT_TEXT} bytes. ASCII UTF-8 is decoded as Latin-1 (the same characters, a faster decoder).
 */
export function getText(buf: Buffer, view: DataView, start: number, end: number, encoding: BufferEncoding): string {
  const length = end - start;
  if (encoding === 'latin1') {
    if (length <= SHORT_TEXT) return fromBytes(buf, start, length);
    if (hasNativeSlices) return (buf as unknown as NativeSlices).latin1Slice(start, end);
  } else if (encoding === 'utf8') {
    if (length <= ASCII_CHECK_MAX && isAscii(buf, view, start, end)) {
      if (length <= SHORT_TEXT) return fromBytes(buf, start, length);
      if (hasNativeSlices) return (buf as unknown as NativeSlices).latin1Slice(start, end);
    }
    if (hasNativeSlices) return (buf as unknown as NativeSlices).utf8Slice(start, end);
  }
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
export function putVarData(buf: Buffer, at: number, value: string | Uint8Array, encoding: BufferEncoding, max: number): number {
  if (typeof value === 'string' && encoding !== 'utf16le') {
    const n = putShortAscii(buf, at, value, max);
    if (n >= 0) return n;
  }
  return putVarDataSlow(buf, at, value, encoding, max);
}

/**
 * Short ASCII text is copied in JavaScript: cheaper than a call into the native encoder.
 * Returns -1 (having written nothing that matters) when the text is long, not ASCII or does
 * not fit.
 */
function putShortAscii(buf: Buffer, at: number, value: string, max: number): number {
  const len = value.length;
  if (len > 64 || len > max || at + len > buf.length) return -1;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[at + i] = c;
  }
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
