/**
 * Part of SbeRuntime.ts (see runtime.ts): text. Native slices where they win, short ASCII
 * built and copied in JavaScript, and the short-text caches (docs/SBE-CODEGEN.md, "Short text").
 */
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

export const TEXT_SOURCE = `interface NativeSlices {
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

/** True when cache slot \`slot\` holds exactly the bytes [start, end) (its length already matched). */
function sameWords(words: Int32Array, slot: number, buf: Buffer, view: DataView, start: number, end: number): boolean {
  let w = slot * TEXT_CACHE_WORDS;
  let i = start;
  for (; i + 4 <= end; i += 4) if (view.getInt32(i, true) !== words[w++]) return false;
  return tailWord(buf, i, end) === words[w];
}

/** Short text [start, end) (1..TEXT_CACHE_MAX bytes) that missed the cache: decoded, and kept when ASCII. */
function decodeShortMiss(buf: Buffer, view: DataView, slot: number, start: number, end: number, utf8: boolean): string {
  const length = end - start;
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
 * Only the cache hit is handled here, in as few bytecodes as it takes (the optimizing
 * compiler inlines a message's accessors up to a bytecode budget, and a message often reads
 * several texts): text up to ${SHORT_TEXT * 2} bytes whose bytes are in the cache comes back
 * as the string cached. Everything else is decodeMiss's: new short ASCII text is built by one
 * String.fromCharCode call (on Node 20 1.3 to 2.5 times faster than a call into the native
 * decoder for up to ${SHORT_TEXT} bytes) and cached; longer ASCII text is decoded as Latin-1 (the
 * same characters, a faster native decoder); the rest by the native UTF-8 decoder.
 */
export function getUtf8(buf: Buffer, view: DataView, start: number, end: number): string {
  const length = end - start;
  if (length > 0 && length <= TEXT_CACHE_MAX) {
    const slot = textSlot(length, buf[start]!, buf[start + (length >> 1)]!, buf[end - 1]!);
    if (decodedLength[slot] === length && sameWords(decodedWords, slot, buf, view, start, end)) return decodedText[slot]!;
  }
  return decodeMiss(buf, view, start, end, true);
}

/** Decodes Latin-1 bytes [start, end) (inside the buffer); short text as getUtf8 does. */
export function getLatin1(buf: Buffer, view: DataView, start: number, end: number): string {
  const length = end - start;
  if (length > 0 && length <= TEXT_CACHE_MAX) {
    const slot = textSlot(length, buf[start]!, buf[start + (length >> 1)]!, buf[end - 1]!);
    if (decodedLength[slot] === length && sameWords(decodedWords, slot, buf, view, start, end)) return decodedText[slot]!;
  }
  return decodeMiss(buf, view, start, end, false);
}

/** Text that missed the cache (or is empty, or too long for it), UTF-8 or Latin-1. */
function decodeMiss(buf: Buffer, view: DataView, start: number, end: number, utf8: boolean): string {
  const length = end - start;
  if (length === 0) return '';
  if (length <= TEXT_CACHE_MAX) {
    const slot = textSlot(length, buf[start]!, buf[start + (length >> 1)]!, buf[end - 1]!);
    return decodeShortMiss(buf, view, slot, start, end, utf8);
  }
  if (!utf8 || (length <= ASCII_CHECK_MAX && isAscii(buf, view, start, end))) return sliceLatin1(buf, start, end);
  return sliceUtf8(buf, start, end);
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

/**
 * Writes var data bytes at offset at; returns their length. Throws before writing if they do
 * not fit. Only the frequent case is handled here, in few bytecodes (see getUtf8): a short
 * string written before (ASCII, in the cache) whose bytes are copied from the cache a word at
 * a time. Everything else is putVarDataMiss's.
 */
export function putVarData(buf: Buffer, view: DataView, at: number, value: string | Uint8Array, encoding: BufferEncoding, max: number): number {
  if (typeof value === 'string') {
    const len = value.length;
    if (len > 0 && len <= TEXT_CACHE_MAX && len <= max && at + len <= buf.length) {
      const slot = textSlot(len, value.charCodeAt(0), value.charCodeAt(len >> 1), value.charCodeAt(len - 1));
      // a cached string is ASCII: its bytes are the same in every encoding but UTF-16
      if (encodedText[slot] === value && encoding !== 'utf16le') {
        copyWords(encodedWords, slot, buf, view, at, len);
        return len;
      }
    }
  }
  return putVarDataMiss(buf, view, at, value, encoding, max);
}

/** Writes len bytes kept in cache slot \`slot\` at offset at (inside the buffer). */
function copyWords(words: Int32Array, slot: number, buf: Buffer, view: DataView, at: number, len: number): void {
  let w = slot * TEXT_CACHE_WORDS;
  let i = 0;
  for (; i + 4 <= len; i += 4) view.setInt32(at + i, words[w++]!, true);
  for (let tail = words[w]!; i < len; i++, tail >>>= 8) buf[at + i] = tail & 0xff;
}

function putVarDataMiss(buf: Buffer, view: DataView, at: number, value: string | Uint8Array, encoding: BufferEncoding, max: number): number {
  if (typeof value === 'string' && encoding !== 'utf16le') {
    const n = putShortAscii(buf, view, at, value, max);
    if (n >= 0) return n;
  }
  return putVarDataSlow(buf, at, value, encoding, max);
}

/**
 * Short ASCII text not in the cache is copied in JavaScript (cheaper than a call into the
 * native encoder) and kept in the cache. Returns -1 (having written nothing that matters)
 * when the text is long, not ASCII or does not fit.
 */
function putShortAscii(buf: Buffer, view: DataView, at: number, value: string, max: number): number {
  const len = value.length;
  if (len > TEXT_CACHE_MAX || len > max || at + len > buf.length) return -1;
  if (len === 0) return 0;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[at + i] = c;
  }
  const slot = textSlot(len, value.charCodeAt(0), value.charCodeAt(len >> 1), value.charCodeAt(len - 1));
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
