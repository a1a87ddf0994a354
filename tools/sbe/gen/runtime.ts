/**
 * The source of `SbeRuntime.ts`, written beside every generated codec set so generated code
 * depends on nothing outside its directory. It caches one DataView and one Buffer per
 * wrapped Uint8Array (the view covers exactly that array, so every read or write past its
 * end throws a RangeError), and holds the string helpers the flyweights share.
 */
export const RUNTIME_FILE = 'SbeRuntime';

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

// 64-bit integers go through an 8-byte scratch typed array: on Node 20 this is several times
// faster than DataView.getBigInt64/setBigInt64, which the optimizing compiler does not inline.
const scratchI64 = new BigInt64Array(1);
const scratchU64 = new BigUint64Array(scratchI64.buffer);
const scratch = new Uint8Array(scratchI64.buffer);
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function load8(buf: Buffer, at: number, le: boolean): void {
  if (at < 0 || at + 8 > buf.length) throw new RangeError(\`64-bit field at \${at} is outside the buffer (\${buf.length} bytes)\`);
  if (le === HOST_LE) {
    scratch[0] = buf[at]!; scratch[1] = buf[at + 1]!; scratch[2] = buf[at + 2]!; scratch[3] = buf[at + 3]!;
    scratch[4] = buf[at + 4]!; scratch[5] = buf[at + 5]!; scratch[6] = buf[at + 6]!; scratch[7] = buf[at + 7]!;
  } else {
    scratch[7] = buf[at]!; scratch[6] = buf[at + 1]!; scratch[5] = buf[at + 2]!; scratch[4] = buf[at + 3]!;
    scratch[3] = buf[at + 4]!; scratch[2] = buf[at + 5]!; scratch[1] = buf[at + 6]!; scratch[0] = buf[at + 7]!;
  }
}

function store8(buf: Buffer, at: number, le: boolean): void {
  if (at < 0 || at + 8 > buf.length) throw new RangeError(\`64-bit field at \${at} is outside the buffer (\${buf.length} bytes)\`);
  if (le === HOST_LE) {
    buf[at] = scratch[0]!; buf[at + 1] = scratch[1]!; buf[at + 2] = scratch[2]!; buf[at + 3] = scratch[3]!;
    buf[at + 4] = scratch[4]!; buf[at + 5] = scratch[5]!; buf[at + 6] = scratch[6]!; buf[at + 7] = scratch[7]!;
  } else {
    buf[at] = scratch[7]!; buf[at + 1] = scratch[6]!; buf[at + 2] = scratch[5]!; buf[at + 3] = scratch[4]!;
    buf[at + 4] = scratch[3]!; buf[at + 5] = scratch[2]!; buf[at + 6] = scratch[1]!; buf[at + 7] = scratch[0]!;
  }
}

export function getInt64(buf: Buffer, at: number, le: boolean): bigint {
  load8(buf, at, le);
  return scratchI64[0]!;
}

export function getUint64(buf: Buffer, at: number, le: boolean): bigint {
  load8(buf, at, le);
  return scratchU64[0]!;
}

export function setInt64(buf: Buffer, at: number, value: bigint, le: boolean): void {
  scratchI64[0] = value;
  store8(buf, at, le);
}

export function setUint64(buf: Buffer, at: number, value: bigint, le: boolean): void {
  scratchU64[0] = value;
  store8(buf, at, le);
}

export function checkLimit(buf: Buffer, limit: number, what: string): void {
  if (limit > buf.length) throw new RangeError(\`\${what} ends at \${limit}, past the end of the buffer (\${buf.length} bytes)\`);
}

interface NativeSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}
const native = Buffer.prototype as unknown as Partial<NativeSlices>;
const hasNativeSlices = typeof native.utf8Slice === 'function' && typeof native.latin1Slice === 'function';

/** Decodes bytes [start, end) as text; the encoding-specific slices skip toString's dispatch. */
export function getText(buf: Buffer, start: number, end: number, encoding: BufferEncoding): string {
  if (hasNativeSlices) {
    if (encoding === 'utf8') return (buf as unknown as NativeSlices).utf8Slice(start, end);
    if (encoding === 'latin1') return (buf as unknown as NativeSlices).latin1Slice(start, end);
  }
  return buf.toString(encoding, start, end);
}

/** Reads a NUL-padded char array: stops at the first NUL. */
export function getChars(buf: Buffer, at: number, length: number, encoding: BufferEncoding): string {
  const limit = at + length;
  checkLimit(buf, limit, 'char array');
  let end = at;
  while (end < limit && buf[end] !== 0) end++;
  return getText(buf, at, end, encoding);
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
`;
