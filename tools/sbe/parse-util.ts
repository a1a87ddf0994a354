/** Attribute readers shared by the type and message parsers; each failure names its element. */
import { SbeSchemaError } from './errors.js';
import type { XmlElement } from './xml.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function describe(el: XmlElement, context?: string): string {
  const name = el.attrs.name !== undefined ? ` '${el.attrs.name}'` : '';
  return `${context ? `${context} ` : ''}${el.tag}${name}`;
}

export function requireAttr(el: XmlElement, attr: string, context?: string): string {
  const v = el.attrs[attr];
  if (v === undefined || v.trim() === '') throw new SbeSchemaError(describe(el, context), `missing attribute '${attr}'`);
  return v.trim();
}

export function requireName(el: XmlElement, context?: string): string {
  const name = requireAttr(el, 'name', context);
  if (!IDENTIFIER.test(name)) throw new SbeSchemaError(describe(el, context), `name '${name}' is not a valid identifier`);
  return name;
}

export function intAttr(el: XmlElement, attr: string, context: string | undefined, fallback?: number): number {
  const raw = el.attrs[attr];
  if (raw === undefined || raw.trim() === '') {
    if (fallback === undefined) throw new SbeSchemaError(describe(el, context), `missing attribute '${attr}'`);
    return fallback;
  }
  const t = raw.trim();
  if (!/^-?\d+$/.test(t)) throw new SbeSchemaError(describe(el, context), `attribute ${attr}="${raw}" is not an integer`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) throw new SbeSchemaError(describe(el, context), `attribute ${attr}="${raw}" is out of range`);
  return n;
}

export function nonNegativeAttr(el: XmlElement, attr: string, context: string | undefined, fallback?: number): number {
  const n = intAttr(el, attr, context, fallback);
  if (n < 0) throw new SbeSchemaError(describe(el, context), `attribute ${attr}="${n}" must not be negative`);
  return n;
}

export function optionalNonNegative(el: XmlElement, attr: string, context?: string): number | undefined {
  return el.attrs[attr] === undefined ? undefined : nonNegativeAttr(el, attr, context);
}

export function optionalText(el: XmlElement, attr: string): string | undefined {
  const v = el.attrs[attr];
  return v === undefined || v === '' ? undefined : v;
}
