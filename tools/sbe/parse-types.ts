/**
 * Builds the type definitions of a schema. Types may be referenced before they are defined
 * (forward references) and may come from several `<types>` blocks, so elements are first
 * indexed by name and then resolved on demand, with a guard against reference cycles.
 * Enums, sets and composites nested in a composite are schema-wide types too (as in the
 * reference implementation); a `<type>` nested in a composite is local to it.
 */
import { SbeSchemaError } from './errors.js';
import {
  PRIMITIVES, isPrimitiveType,
  type CompositeMember, type CompositeType, type EncodedType, type EnumType, type EnumValue,
  type Presence, type PrimitiveType, type SetChoice, type SetType, type TypeDef,
} from './ir.js';
import { describe, nonNegativeAttr, optionalNonNegative, optionalText, requireAttr, requireName } from './parse-util.js';
import type { XmlElement } from './xml.js';

const TYPE_TAGS = new Set(['type', 'enum', 'set', 'composite']);

export class TypeRegistry {
  private readonly elements = new Map<string, XmlElement>();
  private readonly resolved = new Map<string, TypeDef>();
  private readonly resolving = new Set<string>();
  /** Named types in document order. */
  readonly order: string[] = [];

  constructor(private readonly schemaVersion: number) {}

  /** Indexes the children of one `<types>` element (and the named types nested in composites). */
  index(typesEl: XmlElement): void {
    for (const el of typesEl.children) {
      if (el.tag === 'types') {
        // An XInclude inside <types> brings in another file's <types> root.
        this.index(el);
        continue;
      }
      if (!TYPE_TAGS.has(el.tag)) throw new SbeSchemaError(describe(el, 'types'), 'is not a type, enum, set or composite');
      this.add(el, 'types');
    }
  }

  private add(el: XmlElement, context: string): void {
    const name = requireName(el, context);
    if (isPrimitiveType(name)) throw new SbeSchemaError(describe(el, context), `name '${name}' is a primitive type name`);
    if (this.elements.has(name)) throw new SbeSchemaError(describe(el, context), `duplicate type name '${name}'`);
    this.elements.set(name, el);
    this.order.push(name);
    if (el.tag === 'composite') {
      for (const child of el.children) {
        if (child.tag === 'enum' || child.tag === 'set' || child.tag === 'composite') this.add(child, `composite '${name}'`);
      }
    }
  }

  has(name: string): boolean {
    return this.elements.has(name);
  }

  /** A named type, or an anonymous scalar `<type>` for a primitive type name. */
  lookup(name: string, user: string): TypeDef {
    if (isPrimitiveType(name) && !this.elements.has(name)) return scalar(name, name);
    const done = this.resolved.get(name);
    if (done) return done;
    const el = this.elements.get(name);
    if (!el) throw new SbeSchemaError(user, `unknown type '${name}'`);
    if (this.resolving.has(name)) throw new SbeSchemaError(describe(el), 'refers to itself (type reference cycle)');
    this.resolving.add(name);
    const def = this.build(el, 'types');
    this.resolving.delete(name);
    this.resolved.set(name, def);
    return def;
  }

  all(): TypeDef[] {
    return this.order.map((n) => this.lookup(n, 'types'));
  }

  private build(el: XmlElement, context: string): TypeDef {
    switch (el.tag) {
      case 'type': return this.buildType(el, context);
      case 'enum': return this.buildEnum(el, context);
      case 'set': return this.buildSet(el, context);
      case 'composite': return this.buildComposite(el, context);
      default: throw new SbeSchemaError(describe(el, context), 'is not a type');
    }
  }

  private since(el: XmlElement, context: string): number {
    const v = nonNegativeAttr(el, 'sinceVersion', context, 0);
    if (v > this.schemaVersion) {
      throw new SbeSchemaError(describe(el, context), `sinceVersion ${v} is greater than the schema version ${this.schemaVersion}`);
    }
    return v;
  }

  private primitive(el: XmlElement, attr: string, context: string): PrimitiveType {
    const p = requireAttr(el, attr, context);
    if (!isPrimitiveType(p)) throw new SbeSchemaError(describe(el, context), `unknown primitive type '${p}'`);
    return p;
  }

  private buildType(el: XmlElement, context: string): EncodedType {
    const name = requireName(el, context);
    const where = describe(el, context);
    const primitiveType = this.primitive(el, 'primitiveType', context);
    const info = PRIMITIVES[primitiveType];
    const presence = (el.attrs.presence ?? 'required').trim() as Presence;
    if (presence !== 'required' && presence !== 'optional' && presence !== 'constant') {
      throw new SbeSchemaError(where, `presence '${presence}' is not required, optional or constant`);
    }
    let length = nonNegativeAttr(el, 'length', context, 1);
    let constValue: string | undefined;
    if (presence === 'constant') {
      const valueRef = optionalText(el, 'valueRef');
      constValue = valueRef !== undefined ? String(this.enumValueRef(valueRef, where).value) : el.text.trim();
      if (constValue === '') throw new SbeSchemaError(where, 'constant has no value');
      if (primitiveType === 'char') {
        if (el.attrs.length === undefined || constValue.length > length) length = constValue.length;
      } else if (!isNumberText(constValue, info.float)) {
        throw new SbeSchemaError(where, `constant value '${constValue}' is not a ${primitiveType}`);
      }
    }
    const t: EncodedType = {
      kind: 'type', name, primitiveType, length, presence,
      nullValue: numAttr(el, 'nullValue', info.nullValue, info.float, where),
      minValue: numAttr(el, 'minValue', info.minValue, info.float, where),
      maxValue: numAttr(el, 'maxValue', info.maxValue, info.float, where),
      size: presence === 'constant' ? 0 : info.size * length,
      sinceVersion: this.since(el, context),
    };
    if (constValue !== undefined) t.constValue = constValue;
    copyCommon(el, t);
    const enc = optionalText(el, 'characterEncoding');
    if (enc !== undefined) t.characterEncoding = enc;
    return withJsType(t, el, where);
  }

  /** Resolves `Enum.Value` to the enum value. */
  enumValueRef(ref: string, where: string): EnumValue & { enumType: EnumType } {
    const dot = ref.indexOf('.');
    if (dot < 1) throw new SbeSchemaError(where, `valueRef '${ref}' is not of the form Enum.Value`);
    const enumName = ref.slice(0, dot);
    const valueName = ref.slice(dot + 1);
    const t = this.lookup(enumName, where);
    if (t.kind !== 'enum') throw new SbeSchemaError(where, `valueRef '${ref}': '${enumName}' is not an enum`);
    const v = t.values.find((x) => x.name === valueName);
    if (!v) throw new SbeSchemaError(where, `valueRef '${ref}': enum '${enumName}' has no value '${valueName}'`);
    return { ...v, enumType: t };
  }

  private buildEnum(el: XmlElement, context: string): EnumType {
    const name = requireName(el, context);
    const where = describe(el, context);
    const encName = requireAttr(el, 'encodingType', context);
    let encoding: PrimitiveType;
    let nullValue: number | undefined;
    if (isPrimitiveType(encName)) {
      encoding = encName;
    } else {
      const base = this.lookup(encName, where);
      if (base.kind !== 'type' || base.length !== 1 || base.presence === 'constant') {
        throw new SbeSchemaError(where, `encodingType '${encName}' is not a scalar primitive type`);
      }
      encoding = base.primitiveType;
      if (base.nullValue !== PRIMITIVES[encoding].nullValue) nullValue = Number(base.nullValue);
    }
    const info = PRIMITIVES[encoding];
    if (info.big || info.float) throw new SbeSchemaError(where, `encodingType '${encName}' is not supported for an enum (use char or an integer of up to 32 bits)`);
    const values: EnumValue[] = [];
    for (const v of el.children) {
      if (v.tag !== 'validValue') throw new SbeSchemaError(describe(v, `enum '${name}'`), 'is not a validValue');
      const vName = requireName(v, `enum '${name}'`);
      const vWhere = describe(v, `enum '${name}'`);
      const text = v.text.trim();
      let value: number;
      if (encoding === 'char') {
        if (text.length !== 1) throw new SbeSchemaError(vWhere, `value '${text}' is not a single character`);
        value = text.charCodeAt(0);
      } else {
        if (!/^-?\d+$/.test(text)) throw new SbeSchemaError(vWhere, `value '${text}' is not an integer`);
        value = Number(text);
        const bits = info.size * 8;
        const lo = info.signed ? -(2 ** (bits - 1)) : 0;
        const hi = info.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
        if (value < lo || value > hi) {
          throw new SbeSchemaError(vWhere, `value ${value} does not fit ${encoding}`);
        }
      }
      if (values.some((x) => x.name === vName)) throw new SbeSchemaError(vWhere, `duplicate value name '${vName}'`);
      if (values.some((x) => x.value === value)) throw new SbeSchemaError(vWhere, `duplicate value ${text}`);
      const ev: EnumValue = { name: vName, value, sinceVersion: this.since(v, `enum '${name}'`) };
      copyCommon(v, ev);
      values.push(ev);
    }
    if (values.length === 0) throw new SbeSchemaError(where, 'has no validValue');
    const t: EnumType = {
      kind: 'enum', name, encoding, values,
      nullValue: nullValue ?? Number(info.nullValue),
      presence: (el.attrs.presence?.trim() as Presence | undefined) ?? 'required',
      size: info.size,
      sinceVersion: this.since(el, context),
    };
    copyCommon(el, t);
    return t;
  }

  private buildSet(el: XmlElement, context: string): SetType {
    const name = requireName(el, context);
    const where = describe(el, context);
    const encName = requireAttr(el, 'encodingType', context);
    let encoding: PrimitiveType;
    if (isPrimitiveType(encName)) encoding = encName;
    else {
      const base = this.lookup(encName, where);
      if (base.kind !== 'type' || base.length !== 1) throw new SbeSchemaError(where, `encodingType '${encName}' is not a scalar primitive type`);
      encoding = base.primitiveType;
    }
    if (!['uint8', 'uint16', 'uint32', 'uint64'].includes(encoding)) {
      throw new SbeSchemaError(where, `encodingType '${encName}' must be uint8, uint16, uint32 or uint64`);
    }
    const bits = PRIMITIVES[encoding].size * 8;
    const choices: SetChoice[] = [];
    for (const c of el.children) {
      const cWhere = describe(c, `set '${name}'`);
      if (c.tag !== 'choice') throw new SbeSchemaError(cWhere, 'is not a choice');
      const cName = requireName(c, `set '${name}'`);
      const text = c.text.trim();
      if (!/^\d+$/.test(text) || Number(text) >= bits) throw new SbeSchemaError(cWhere, `bit '${text}' is not in 0..${bits - 1}`);
      const bit = Number(text);
      if (choices.some((x) => x.name === cName)) throw new SbeSchemaError(cWhere, `duplicate choice name '${cName}'`);
      if (choices.some((x) => x.bit === bit)) throw new SbeSchemaError(cWhere, `duplicate bit ${bit}`);
      const ch: SetChoice = { name: cName, bit, sinceVersion: this.since(c, `set '${name}'`) };
      copyCommon(c, ch);
      choices.push(ch);
    }
    const t: SetType = { kind: 'set', name, encoding, choices, size: PRIMITIVES[encoding].size, sinceVersion: this.since(el, context) };
    copyCommon(el, t);
    return t;
  }

  private buildComposite(el: XmlElement, context: string): CompositeType {
    const name = requireName(el, context);
    const ctx = `composite '${name}'`;
    const members: CompositeMember[] = [];
    let offset = 0;
    for (const m of el.children) {
      const mName = requireName(m, ctx);
      const mWhere = describe(m, ctx);
      if (members.some((x) => x.name === mName)) throw new SbeSchemaError(mWhere, `duplicate member name '${mName}'`);
      let type: TypeDef;
      if (m.tag === 'ref') type = this.lookup(requireAttr(m, 'type', ctx), mWhere);
      else if (m.tag === 'type') type = this.buildType(m, ctx);
      else if (m.tag === 'enum' || m.tag === 'set' || m.tag === 'composite') type = this.lookup(mName, mWhere);
      else throw new SbeSchemaError(mWhere, 'is not a type, enum, set, composite or ref');
      const explicit = optionalNonNegative(m, 'offset', ctx);
      if (explicit !== undefined) {
        if (explicit < offset) throw new SbeSchemaError(mWhere, `offset ${explicit} overlaps the previous member (which ends at ${offset})`);
        offset = explicit;
      }
      const member: CompositeMember = { name: mName, offset, type, sinceVersion: this.since(m, ctx) };
      const dep = optionalNonNegative(m, 'deprecated', ctx);
      if (dep !== undefined) member.deprecated = dep;
      members.push(member);
      offset += type.size;
    }
    if (members.length === 0) throw new SbeSchemaError(describe(el, context), 'has no members');
    const t: CompositeType = { kind: 'composite', name, members, size: offset, sinceVersion: this.since(el, context) };
    copyCommon(el, t);
    return t;
  }
}

function scalar(name: string, p: PrimitiveType): EncodedType {
  const info = PRIMITIVES[p];
  return {
    kind: 'type', name, primitiveType: p, length: 1, presence: 'required',
    nullValue: info.nullValue, minValue: info.minValue, maxValue: info.maxValue, size: info.size, sinceVersion: 0,
  };
}

/**
 * Applies an element's `jsType` attribute (`number` or `bigint`, any namespace prefix) to a
 * 64-bit integer type: returns the type itself when nothing changes, else a copy. `number`
 * needs every value the field can hold to be exact as a double: constants and null values
 * must be safe integers, or -2^63 (int64's standard null, a power of two). An optional
 * uint64 with the standard null (2^64-1) cannot be a number.
 */
export function withJsType(t: EncodedType, el: XmlElement, where: string, presence: Presence = t.presence): EncodedType {
  const raw = el.attrs.jsType;
  if (raw === undefined) return t;
  const js = raw.trim();
  if (js !== 'number' && js !== 'bigint') throw new SbeSchemaError(where, `jsType '${raw}' is not number or bigint`);
  if (!PRIMITIVES[t.primitiveType].big) {
    throw new SbeSchemaError(where, `jsType applies to int64 and uint64 types only (this is ${t.primitiveType})`);
  }
  if (js === 'bigint') {
    if (!t.jsNumber) return t;
    const copy = { ...t };
    delete copy.jsNumber;
    return copy;
  }
  const out = t.jsNumber ? t : { ...t, jsNumber: true };
  checkJsNumber(out, presence, where);
  return out;
}

/** The rules of withJsType for a number type used with the given presence. */
export function checkJsNumber(t: EncodedType, presence: Presence, where: string): void {
  if (!t.jsNumber) return;
  const exact = (text: string): boolean => {
    const b = BigInt(text);
    return (b >= -MAX_SAFE && b <= MAX_SAFE) || b === INT64_MIN;
  };
  if (t.constValue !== undefined && !exact(t.constValue)) {
    throw new SbeSchemaError(where, `jsType number: constant ${t.constValue} is not a safe integer`);
  }
  if (presence === 'optional' && !exact(t.nullValue)) {
    throw new SbeSchemaError(where, `jsType number: null value ${t.nullValue} is not exact as a JavaScript number (give a nullValue that is a safe integer)`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);

function isNumberText(s: string, float: boolean): boolean {
  return float ? /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^NaN$/.test(s) : /^-?\d+$/.test(s);
}

function numAttr(el: XmlElement, attr: string, fallback: string, float: boolean, where: string): string {
  const raw = el.attrs[attr];
  if (raw === undefined || raw.trim() === '') return fallback;
  const t = raw.trim();
  if (!isNumberText(t, float)) throw new SbeSchemaError(where, `${attr} '${raw}' is not a number`);
  return t;
}

function copyCommon(el: XmlElement, target: { description?: string; semanticType?: string; deprecated?: number }): void {
  const d = optionalText(el, 'description');
  if (d !== undefined) target.description = d;
  const s = optionalText(el, 'semanticType');
  if (s !== undefined) target.semanticType = s;
  const dep = el.attrs.deprecated;
  if (dep !== undefined && /^\d+$/.test(dep.trim())) target.deprecated = Number(dep.trim());
}

export { copyCommon };
