/**
 * Reads a schema file into a plain element tree. Namespace prefixes are dropped (`sbe:`,
 * any other prefix, or none all read the same), and XInclude elements are replaced by the
 * root element of the file they name, resolved relative to the including file, recursively.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SbeSchemaError } from './errors.js';

export interface XmlElement {
  tag: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated text content (not trimmed). */
  text: string;
  /** The file the element came from (for messages naming an included file). */
  file: string;
}

type Ordered = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function toElement(node: Ordered, file: string): XmlElement | null {
  const tag = Object.keys(node).find((k) => k !== ':@');
  if (tag === undefined || tag === '#text' || tag.startsWith('?') || tag === '#comment') return null;
  const attrs: Record<string, string> = {};
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = String(v);
  const children: XmlElement[] = [];
  let text = '';
  for (const child of (node[tag] ?? []) as Ordered[]) {
    if (Object.prototype.hasOwnProperty.call(child, '#text')) {
      text += String(child['#text']);
      continue;
    }
    const el = toElement(child, file);
    if (el) children.push(el);
  }
  return { tag, attrs, children, text, file };
}

function parseFile(path: string): XmlElement {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SbeSchemaError(`file '${path}'`, `cannot be read (${(err as Error).message})`);
  }
  const valid = XMLValidator.validate(source);
  if (valid !== true) {
    throw new SbeSchemaError(`file '${path}' line ${valid.err.line}`, `is not well-formed XML: ${valid.err.msg}`);
  }
  const nodes = parser.parse(source) as Ordered[];
  const roots = nodes.map((n) => toElement(n, path)).filter((e): e is XmlElement => e !== null);
  if (roots.length !== 1) throw new SbeSchemaError(`file '${path}'`, 'must hold exactly one root element');
  return roots[0]!;
}

function expandIncludes(el: XmlElement, stack: string[]): XmlElement {
  const children: XmlElement[] = [];
  for (const child of el.children) {
    if (child.tag === 'include') {
      const href = child.attrs.href;
      if (!href) throw new SbeSchemaError(`include in '${el.file}'`, 'has no href');
      const target = resolve(dirname(el.file), href);
      if (stack.includes(target)) throw new SbeSchemaError(`include '${href}' in '${el.file}'`, 'includes itself (cycle)');
      children.push(expandIncludes(parseFile(target), [...stack, target]));
    } else {
      children.push(expandIncludes(child, stack));
    }
  }
  return { ...el, children };
}

/** Loads a schema file with its includes expanded. */
export function loadSchemaXml(path: string): XmlElement {
  const abs = resolve(path);
  return expandIncludes(parseFile(abs), [abs]);
}

/** The root element's tag (prefix dropped), to tell schemas from files they include. */
export function rootTag(path: string): string {
  return parseFile(resolve(path)).tag;
}
