/**
 * The source of `SbeRuntime.ts`, written beside every generated codec set so generated code
 * depends on nothing outside its directory. It caches one DataView and one Buffer per
 * wrapped Uint8Array (the view covers exactly that array, so every read or write past its
 * end throws a RangeError), and holds the helpers the flyweights share (64-bit integers in
 * runtime-int64.ts, text in runtime-text.ts).
 */
import { INT64_SOURCE } from './runtime-int64.js';
import { TEXT_SOURCE } from './runtime-text.js';

export const RUNTIME_FILE = 'SbeRuntime';

export const RUNTIME_SOURCE =
  `/**
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

` +
  INT64_SOURCE +
  `/** Thrown by decoders' wrapAndApplyHeader (out of line, to keep it small). */
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

` +
  TEXT_SOURCE;
