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

export function checkLimit(buf: Buffer, limit: number, what: string): void {
  if (limit > buf.length) throw new RangeError(\`\${what} ends at \${limit}, past the end of the buffer (\${buf.length} bytes)\`);
}

/** Reads a NUL-padded char array: stops at the first NUL. */
export function getChars(buf: Buffer, at: number, length: number, encoding: BufferEncoding): string {
  const limit = at + length;
  checkLimit(buf, limit, 'char array');
  let end = at;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString(encoding, at, end);
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
