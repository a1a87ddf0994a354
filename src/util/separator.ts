/**
 * Event separators: a CLI/URI spelling (percent-encoded bytes, e.g. `%0A`, `%0D%0A`, or plain
 * characters such as `|`) to bytes and back.
 */
import { ErrorCode, VcrError } from './errors.js';

export const DEFAULT_SEPARATOR = '%0A';

/** Parse a percent-encoded separator into bytes. Throws VcrError INVALID_ARGUMENT. */
export function parseSeparator(spec: string): Buffer {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, 'separator is empty: give bytes such as %0A (newline) or %0D%0A');
  }
  const bytes: number[] = [];
  for (let i = 0; i < spec.length; ) {
    const ch = spec[i]!;
    if (ch === '%') {
      const hex = spec.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new VcrError(
          ErrorCode.INVALID_ARGUMENT,
          `separator '${spec}': '%' at index ${i} must be followed by two hex digits (write %25 for a literal '%')`,
        );
      }
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      const cp = spec.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
      i += s.length;
    }
  }
  if (bytes.length > 64) {
    throw new VcrError(ErrorCode.INVALID_ARGUMENT, `separator '${spec}' is ${bytes.length} bytes; at most 64 are allowed`);
  }
  return Buffer.from(bytes);
}

/** The canonical spelling: printable ASCII except '%' and URI-reserved characters as-is, the rest %XX. */
export function formatSeparator(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const printable = b > 0x20 && b < 0x7f && !'%&?#=+/:;@[] '.includes(String.fromCharCode(b));
    out += printable ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export { SeparatorSplitter, type SeparatorSplitterOptions, type SplitHandler } from './separator-splitter.js';
