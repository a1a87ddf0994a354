/**
 * Schema XML -> validated IR. Reads the `<messageSchema>` attributes, indexes every
 * `<types>` block, then lays out each message: fields get offsets (explicit `offset`
 * attributes are honoured and checked for overlap), groups get their dimension composite,
 * var data its length/data composite, and every element gets an effective `sinceVersion`.
 * Cross-cutting rules (unique ids and names, versions) are checked in validate.ts.
 */
import { SbeSchemaError } from './errors.js';
import {
  PRIMITIVES,
  type Block, type CompositeType, type EncodedType, type Field, type Group, type Message, type Presence,
  type Schema, type VarData,
} from './ir.js';
import { checkJsNumber, copyCommon, TypeRegistry, withJsType } from './parse-types.js';
import { describe, nonNegativeAttr, optionalNonNegative, optionalText, requireAttr, requireName } from './parse-util.js';
import { validateSchema } from './validate.js';
import { loadSchemaXml, type XmlElement } from './xml.js';

/** Loads, parses and validates a schema file. Throws SbeSchemaError naming the element. */
export function loadSchema(path: string): Schema {
  return parseSchema(loadSchemaXml(path));
}

export function parseSchema(root: XmlElement): Schema {
  if (root.tag !== 'messageSchema') throw new SbeSchemaError(`root element '${root.tag}'`, 'is not a messageSchema');
  const ctx = 'messageSchema';
  const version = nonNegativeAttr(root, 'version', ctx, 0);
  const byteOrderText = (root.attrs.byteOrder ?? 'littleEndian').trim();
  if (byteOrderText !== 'littleEndian' && byteOrderText !== 'bigEndian') {
    throw new SbeSchemaError(ctx, `byteOrder '${byteOrderText}' is not littleEndian or bigEndian`);
  }
  const registry = new TypeRegistry(version);
  for (const el of root.children) if (el.tag === 'types') registry.index(el);

  const headerName = (root.attrs.headerType ?? 'messageHeader').trim();
  const header = registry.lookup(headerName, `${ctx} headerType`);
  if (header.kind !== 'composite') throw new SbeSchemaError(`header type '${headerName}'`, 'is not a composite');
  for (const m of ['blockLength', 'templateId', 'schemaId', 'version']) requireIntMember(header, m, `header type '${headerName}'`);

  const parser = new MessageParser(registry, version);
  const messages: Message[] = [];
  for (const el of root.children) {
    if (el.tag === 'message') messages.push(parser.message(el));
    else if (el.tag !== 'types') throw new SbeSchemaError(describe(el, ctx), 'is not a types or message element');
  }
  const schema: Schema = {
    package: requireAttr(root, 'package', ctx),
    id: nonNegativeAttr(root, 'id', ctx),
    version,
    byteOrder: byteOrderText,
    headerType: header,
    types: registry.all(),
    messages,
  };
  const sv = optionalText(root, 'semanticVersion');
  if (sv !== undefined) schema.semanticVersion = sv;
  const d = optionalText(root, 'description');
  if (d !== undefined) schema.description = d;
  validateSchema(schema);
  return schema;
}

/** Checks that a composite has an integer member of up to 32 bits; returns it. */
export function requireIntMember(c: CompositeType, name: string, where: string): void {
  const m = c.members.find((x) => x.name === name);
  if (!m) throw new SbeSchemaError(where, `has no '${name}' member`);
  const t = m.type;
  if (t.kind !== 'type' || t.length !== 1 || t.presence === 'constant' || PRIMITIVES[t.primitiveType].float || PRIMITIVES[t.primitiveType].big || t.primitiveType === 'char') {
    throw new SbeSchemaError(where, `member '${name}' must be an unsigned or signed integer of up to 32 bits`);
  }
}

class MessageParser {
  constructor(
    private readonly registry: TypeRegistry,
    private readonly schemaVersion: number,
  ) {}

  message(el: XmlElement): Message {
    const name = requireName(el, 'messageSchema');
    const where = `message '${name}'`;
    const since = this.since(el, 'messageSchema', 0);
    const block = this.block(el, where, since);
    const m: Message = { name, id: nonNegativeAttr(el, 'id', 'messageSchema'), sinceVersion: since, ...block };
    copyCommon(el, m);
    return m;
  }

  private since(el: XmlElement, context: string, parentSince: number): number {
    const where = describe(el, context);
    const explicit = optionalNonNegative(el, 'sinceVersion', context);
    const v = explicit ?? parentSince;
    if (v > this.schemaVersion) throw new SbeSchemaError(where, `sinceVersion ${v} is greater than the schema version ${this.schemaVersion}`);
    if (v < parentSince) throw new SbeSchemaError(where, `sinceVersion ${v} is older than its container's sinceVersion ${parentSince}`);
    return v;
  }

  /** Lays out the fields, groups and var data of a message or group element. */
  private block(el: XmlElement, where: string, since: number): Pick<Block, 'fields' | 'groups' | 'data' | 'blockLength'> {
    const fields: Field[] = [];
    const groups: Group[] = [];
    const data: VarData[] = [];
    let offset = 0;
    for (const child of el.children) {
      if (child.tag === 'field') {
        if (groups.length || data.length) throw new SbeSchemaError(describe(child, where), 'must come before every group and data element');
        const f = this.field(child, where, offset, since);
        fields.push(f);
        if (f.presence !== 'constant') offset = f.offset + f.type.size;
      } else if (child.tag === 'group') {
        if (data.length) throw new SbeSchemaError(describe(child, where), 'must come before every data element');
        groups.push(this.group(child, where, since));
      } else if (child.tag === 'data') {
        data.push(this.varData(child, where, since));
      } else {
        throw new SbeSchemaError(describe(child, where), 'is not a field, group or data element');
      }
    }
    const declared = optionalNonNegative(el, 'blockLength', where);
    if (declared !== undefined && declared < offset) {
      throw new SbeSchemaError(where, `blockLength ${declared} is smaller than its fields (${offset} bytes)`);
    }
    return { fields, groups, data, blockLength: declared ?? offset };
  }

  private field(el: XmlElement, context: string, offset: number, parentSince: number): Field {
    const name = requireName(el, context);
    const where = describe(el, context);
    const typeName = requireAttr(el, 'type', context);
    const type = this.registry.lookup(typeName, where);
    let since = this.since(el, context, parentSince);
    if (type.sinceVersion > since) since = type.sinceVersion;
    const presenceText = (el.attrs.presence ?? 'required').trim();
    if (!['required', 'optional', 'constant'].includes(presenceText)) {
      throw new SbeSchemaError(where, `presence '${presenceText}' is not required, optional or constant`);
    }
    let presence = presenceText as Presence;
    const f: Field = { name, id: nonNegativeAttr(el, 'id', context), type, offset, presence, sinceVersion: since };
    if (presence === 'constant') {
      const ref = optionalText(el, 'valueRef');
      if (type.kind === 'enum') {
        if (ref === undefined) throw new SbeSchemaError(where, 'constant enum field has no valueRef');
        const v = this.registry.enumValueRef(ref.trim(), where);
        if (v.enumType !== type) throw new SbeSchemaError(where, `valueRef '${ref}' is not a value of enum '${type.name}'`);
        f.constEnumValue = v.name;
      } else if (!(type.kind === 'type' && type.presence === 'constant')) {
        throw new SbeSchemaError(where, 'presence constant needs an enum type with valueRef or a constant type');
      }
    } else if (type.kind === 'type' && type.presence === 'constant') {
      presence = 'constant';
      f.presence = presence;
    } else if (type.kind === 'type' && type.presence === 'optional') {
      f.presence = 'optional';
    }
    // A field newer than the acting version reads as its null value, as an optional one does.
    const nullable = f.presence === 'optional' || since > 0 ? 'optional' : f.presence;
    if (el.attrs.jsType !== undefined) {
      if (type.kind !== 'type') throw new SbeSchemaError(where, `jsType applies to int64 and uint64 types only (this is a ${type.kind})`);
      f.type = withJsType(type, el, where, nullable);
    } else if (type.kind === 'type') {
      checkJsNumber(type, nullable, where);
    }
    if (f.presence !== 'constant') {
      const explicit = optionalNonNegative(el, 'offset', context);
      if (explicit !== undefined) {
        if (explicit < offset) throw new SbeSchemaError(where, `offset ${explicit} overlaps the previous field (which ends at ${offset})`);
        f.offset = explicit;
      }
    }
    copyCommon(el, f);
    return f;
  }

  private group(el: XmlElement, context: string, parentSince: number): Group {
    const name = requireName(el, context);
    const where = describe(el, context);
    const dimName = (el.attrs.dimensionType ?? 'groupSizeEncoding').trim();
    const dim = this.registry.lookup(dimName, where);
    if (dim.kind !== 'composite') throw new SbeSchemaError(where, `dimensionType '${dimName}' is not a composite`);
    requireIntMember(dim, 'blockLength', `${where} dimensionType '${dimName}'`);
    requireIntMember(dim, 'numInGroup', `${where} dimensionType '${dimName}'`);
    const since = this.since(el, context, parentSince);
    const g: Group = {
      name, id: nonNegativeAttr(el, 'id', context), dimension: dim, sinceVersion: since,
      ...this.block(el, where, since),
    };
    copyCommon(el, g);
    return g;
  }

  private varData(el: XmlElement, context: string, parentSince: number): VarData {
    const name = requireName(el, context);
    const where = describe(el, context);
    const typeName = requireAttr(el, 'type', context);
    const type = this.registry.lookup(typeName, where);
    if (type.kind !== 'composite') throw new SbeSchemaError(where, `type '${typeName}' is not a composite with length and varData`);
    const len = type.members.find((m) => m.name === 'length');
    const dat = type.members.find((m) => m.name === 'varData');
    if (!len || !dat) throw new SbeSchemaError(where, `type '${typeName}' must have 'length' and 'varData' members`);
    requireIntMember(type, 'length', `${where} type '${typeName}'`);
    const lt = len.type as EncodedType;
    if (dat.type.kind !== 'type' || (dat.type.primitiveType !== 'uint8' && dat.type.primitiveType !== 'char')) {
      throw new SbeSchemaError(where, `type '${typeName}' member 'varData' must be uint8 or char`);
    }
    const lengthInfo = PRIMITIVES[lt.primitiveType];
    // The full range of the length type (an unsigned length may use its null value too)
    // unless the schema caps it with maxValue.
    const fullRange = lengthInfo.signed ? Number(lengthInfo.maxValue) : 2 ** (lengthInfo.size * 8) - 1;
    const v: VarData = {
      name, id: nonNegativeAttr(el, 'id', context), type, lengthType: lt.primitiveType,
      lengthOffset: len.offset, dataOffset: dat.offset,
      maxLength: lt.maxValue !== lengthInfo.maxValue ? Math.min(Number(lt.maxValue), fullRange) : fullRange,
      sinceVersion: this.since(el, context, parentSince),
    };
    const enc = dat.type.characterEncoding;
    if (enc !== undefined) v.characterEncoding = enc;
    copyCommon(el, v);
    return v;
  }
}
