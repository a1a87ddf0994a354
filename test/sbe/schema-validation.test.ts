/**
 * Parsing details (namespace prefixes, XInclude, forward references, several <types>) and
 * the rejection of invalid schemas: each error carries INVALID_ARGUMENT and names the element.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../src/util/errors.js';
import { SbeSchemaError } from '../../tools/sbe/errors.js';
import { loadSchema } from '../../tools/sbe/parser.js';
import { generateSchema } from '../../tools/sbe/gen/generate.js';
import type { Schema } from '../../tools/sbe/ir.js';

const dir = mkdtempSync(join(tmpdir(), 'sbe-schemas-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const HEADER = `<composite name="messageHeader"><type name="blockLength" primitiveType="uint16"/><type name="templateId" primitiveType="uint16"/>
  <type name="schemaId" primitiveType="uint16"/><type name="version" primitiveType="uint16"/></composite>
  <composite name="groupSizeEncoding"><type name="blockLength" primitiveType="uint16"/><type name="numInGroup" primitiveType="uint16"/></composite>
  <composite name="varString"><type name="length" primitiveType="uint16"/><type name="varData" primitiveType="uint8" length="0" characterEncoding="UTF-8"/></composite>`;

function schemaText(body: string, opts: { version?: number; types?: string; prefix?: string } = {}): string {
  const p = opts.prefix ?? 'sbe:';
  const ns = p ? ` xmlns:${p.slice(0, -1)}="http://fixprotocol.io/2016/sbe"` : '';
  return `<?xml version="1.0"?>\n<${p}messageSchema${ns} xmlns:xi="http://www.w3.org/2001/XInclude" package="t" id="9" version="${opts.version ?? 0}">
  <types>${HEADER}${opts.types ?? ''}</types>\n${body.replace(/<message/g, `<${p}message`).replace(/<\/message/g, `</${p}message`)}\n</${p}messageSchema>`;
}

function write(text: string, name = `s${n++}.xml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function load(body: string, opts?: Parameters<typeof schemaText>[1]): Schema {
  return loadSchema(write(schemaText(body, opts)));
}

function rejection(body: string, opts?: Parameters<typeof schemaText>[1]): SbeSchemaError {
  try {
    // Some clashes only show when generating (two types yielding one file name).
    generateSchema(load(body, opts), 'test.xml');
  } catch (err) {
    expect(err).toBeInstanceOf(SbeSchemaError);
    expect((err as SbeSchemaError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    return err as SbeSchemaError;
  }
  throw new Error('schema was accepted');
}

describe('schema parsing', () => {
  it('reads any namespace prefix, or none, the same way', () => {
    const body = '<message name="M" id="1"><field name="a" id="1" type="int32"/></message>';
    const a = load(body, { prefix: 'sbe:' });
    const b = load(body, { prefix: 'fix:' });
    const c = load(body, { prefix: '' });
    expect(b.messages).toEqual(a.messages);
    expect(c.messages).toEqual(a.messages);
    expect(a.messages[0]!.blockLength).toBe(4);
  });

  it('resolves XInclude relative to the including file, recursively, and forward references', () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    write('<types><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="b.xml"/><type name="A" primitiveType="int16"/></types>', 'sub/a.xml');
    write('<types><ref-not-used/></types>'.replace('<ref-not-used/>', '<enum name="E" encodingType="uint8"><validValue name="X">1</validValue></enum>'), 'sub/b.xml');
    const s = load('<message name="M" id="1"><field name="a" id="1" type="A"/><field name="e" id="2" type="E"/><field name="f" id="3" type="Later"/></message>',
      { types: '<xi:include href="sub/a.xml"/></types><types><type name="Later" primitiveType="uint64"/>' });
    expect(s.messages[0]!.fields.map((f) => [f.name, f.offset, f.type.kind])).toEqual([['a', 0, 'type'], ['e', 2, 'enum'], ['f', 3, 'type']]);
    expect(s.messages[0]!.blockLength).toBe(11);
  });

  it('uses the real encoded length of a custom header', () => {
    const text = schemaText('<message name="M" id="1"><field name="a" id="1" type="int8"/></message>', {
      types: '<composite name="h12"><type name="blockLength" primitiveType="uint16"/><type name="templateId" primitiveType="uint16"/><type name="schemaId" primitiveType="uint16"/><type name="version" primitiveType="uint16"/><type name="pad" primitiveType="uint32"/></composite>',
    }).replace('version="0"', 'version="0" headerType="h12"');
    expect(loadSchema(write(text)).headerType.size).toBe(12);
  });
});

describe('invalid schemas are rejected naming the element', () => {
  const cases: [string, string, Parameters<typeof schemaText>[1]?, string?][] = [
    ['duplicate field ids', '<message name="M" id="1"><field name="a" id="1" type="int8"/><field name="b" id="1" type="int8"/></message>', undefined, "message 'M' field 'b'"],
    ['duplicate ids across a group', '<message name="M" id="1"><field name="a" id="1" type="int8"/><group name="g" id="2"><field name="x" id="1" type="int8"/></group></message>', undefined, "message 'M' group 'g' field 'x'"],
    ['duplicate field names', '<message name="M" id="1"><field name="a" id="1" type="int8"/><field name="a" id="2" type="int8"/></message>', undefined, "message 'M' field 'a'"],
    ['duplicate message ids', '<message name="M" id="1"/><message name="N" id="1"/>', undefined, "message 'N'"],
    ['duplicate message names', '<message name="M" id="1"/><message name="M" id="2"/>', undefined, "message 'M'"],
    ['duplicate type names', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="int8"/><type name="T" primitiveType="int16"/>' }, "types type 'T'"],
    ['overlapping field offsets', '<message name="M" id="1"><field name="a" id="1" type="int32"/><field name="b" id="2" type="int8" offset="2"/></message>', undefined, "message 'M' field 'b'"],
    ['overlapping composite offsets', '<message name="M" id="1"/>', { types: '<composite name="C"><type name="a" primitiveType="int32"/><type name="b" primitiveType="int8" offset="3"/></composite>' }, "composite 'C' type 'b'"],
    ['sinceVersion above the schema version', '<message name="M" id="1"><field name="a" id="1" type="int8" sinceVersion="2"/></message>', { version: 1 }, "message 'M' field 'a'"],
    ['a field older than its message', '<message name="M" id="1" sinceVersion="1"><field name="a" id="1" type="int8" sinceVersion="0"/></message>', { version: 1 }, "message 'M' field 'a'"],
    ['a type newer than the schema', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="int8" sinceVersion="3"/>' }, "types type 'T'"],
    ['a group dimension without numInGroup', '<message name="M" id="1"><group name="g" id="1" dimensionType="bad"><field name="x" id="2" type="int8"/></group></message>', { types: '<composite name="bad"><type name="blockLength" primitiveType="uint16"/><type name="count" primitiveType="uint16"/></composite>' }, "message 'M' group 'g' dimensionType 'bad'"],
    ['an unknown type', '<message name="M" id="1"><field name="a" id="1" type="Nope"/></message>', undefined, "message 'M' field 'a'"],
    ['an unknown ref in a composite', '<message name="M" id="1"/>', { types: '<composite name="C"><ref name="r" type="Nope"/></composite>' }, "composite 'C' ref 'r'"],
    ['a block length smaller than the fields', '<message name="M" id="1" blockLength="3"><field name="a" id="1" type="int32"/></message>', undefined, "message 'M'"],
    ['a group block length smaller than its fields', '<message name="M" id="1"><group name="g" id="1" blockLength="1"><field name="x" id="2" type="int16"/></group></message>', undefined, "message 'M' group 'g'"],
    ['var data without length/varData', '<message name="M" id="1"><data name="d" id="1" type="groupSizeEncoding"/></message>', undefined, "message 'M' data 'd'"],
    ['a field after a group', '<message name="M" id="1"><group name="g" id="1"><field name="x" id="2" type="int8"/></group><field name="a" id="3" type="int8"/></message>', undefined, "message 'M' field 'a'"],
    ['a duplicate enum value', '<message name="M" id="1"/>', { types: '<enum name="E" encodingType="uint8"><validValue name="A">1</validValue><validValue name="B">1</validValue></enum>' }, "enum 'E' validValue 'B'"],
    ['an enum value that does not fit', '<message name="M" id="1"/>', { types: '<enum name="E" encodingType="uint8"><validValue name="A">256</validValue></enum>' }, "enum 'E' validValue 'A'"],
    ['a set bit out of range', '<message name="M" id="1"/>', { types: '<set name="S" encodingType="uint8"><choice name="a">8</choice></set>' }, "set 'S' choice 'a'"],
    ['a bad constant valueRef', '<message name="M" id="1"><field name="e" id="1" type="E" presence="constant" valueRef="E.Z"/></message>', { types: '<enum name="E" encodingType="uint8"><validValue name="A">1</validValue></enum>' }, "message 'M' field 'e'"],
    ['a type reference cycle', '<message name="M" id="1"/>', { types: '<composite name="A"><ref name="b" type="B"/></composite><composite name="B"><ref name="a" type="A"/></composite>' }, "composite 'A'"],
    ['a name that is not an identifier', '<message name="M" id="1"><field name="a-b" id="1" type="int8"/></message>', undefined, "message 'M' field 'a-b'"],
    ['a name the generated API reserves', '<message name="M" id="1"><field name="wrap" id="1" type="int8"/></message>', undefined, "message 'M' field 'wrap'"],
    ['a name starting with an underscore', '<message name="M" id="1"><field name="_buf" id="1" type="int8"/></message>', undefined, "message 'M' field '_buf'"],
    ['a set choice named like a generated method', '<message name="M" id="1"/>', { types: '<set name="S" encodingType="uint8"><choice name="choices">0</choice></set>' }, "set 'S' choice 'choices'"],
    ['accessor names that clash', '<message name="M" id="1"><field name="textLength" id="1" type="int8"/><data name="text" id="2" type="varString"/></message>', undefined, "message 'M' data 'text'"],
    ['two types generating the same file', '<message name="M" id="1"/>', { types: '<enum name="color" encodingType="uint8"><validValue name="R">1</validValue></enum><enum name="Color" encodingType="uint8"><validValue name="R">1</validValue></enum>' }, "enum 'Color'"],
    ['a bad primitive type', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="int128"/>' }, "types type 'T'"],
    ['jsType on a type that is not 64-bit', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="int32" jsType="number"/>' }, "types type 'T'"],
    ['jsType on a field that is not 64-bit', '<message name="M" id="1"><field name="a" id="1" type="uint32" jsType="number"/></message>', undefined, "message 'M' field 'a'"],
    ['jsType on a composite field', '<message name="M" id="1"><field name="a" id="1" type="groupSizeEncoding" jsType="number"/></message>', undefined, "message 'M' field 'a'"],
    ['a jsType that is neither number nor bigint', '<message name="M" id="1"><field name="a" id="1" type="int64" jsType="double"/></message>', undefined, "message 'M' field 'a'"],
    ['jsType number on an optional uint64 (null 2^64-1 is not exact)', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="uint64" presence="optional" jsType="number"/>' }, "types type 'T'"],
    ['jsType number on a field made optional', '<message name="M" id="1"><field name="a" id="1" type="uint64" presence="optional" jsType="number"/></message>', undefined, "message 'M' field 'a'"],
    ['jsType number on a versioned uint64 (reads as null when absent)', '<message name="M" id="1"><field name="a" id="1" type="T" sinceVersion="1"/></message>', { version: 1, types: '<type name="T" primitiveType="uint64" jsType="number"/>' }, "message 'M' field 'a'"],
    ['jsType number on a constant that is not a safe integer', '<message name="M" id="1"/>', { types: '<type name="T" primitiveType="int64" presence="constant" jsType="number">9007199254740993</type>' }, "types type 'T'"],
    ['a type whose generated export clashes with the schema constants', '<message name="M" id="1"/>', { types: '<enum name="SCHEMA_ID" encodingType="uint8"><validValue name="A">1</validValue></enum>' }, 'type or message generating SCHEMA_ID.ts'],
  ];
  for (const [what, body, opts, element] of cases) {
    it(what, () => {
      expect(rejection(body, opts).element).toBe(element);
    });
  }

  it('a schema without a message header', () => {
    const path = write('<messageSchema package="p" id="1"><types><type name="T" primitiveType="int8"/></types></messageSchema>');
    expect(() => loadSchema(path)).toThrow(SbeSchemaError);
    try { loadSchema(path); } catch (err) { expect((err as SbeSchemaError).element).toBe('messageSchema headerType'); }
  });

  it('XML that is not well-formed, a missing include, an include cycle', () => {
    const cases = [
      write('<messageSchema package="p" id="1"><types></messageSchema>'),
      write(schemaText('<message name="M" id="1"/>', { types: '<xi:include href="missing.xml"/>' })),
    ];
    const cyc = join(dir, 'cycle.xml');
    writeFileSync(cyc, '<types><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="cycle.xml"/></types>');
    cases.push(write(schemaText('<message name="M" id="1"/>', { types: '<xi:include href="cycle.xml"/>' })));
    const elements = cases.map((p) => {
      try {
        loadSchema(p);
        return 'accepted';
      } catch (err) {
        expect((err as SbeSchemaError).code).toBe(ErrorCode.INVALID_ARGUMENT);
        return (err as SbeSchemaError).element;
      }
    });
    expect(elements[0]).toMatch(/^file '.*' line \d+$/);
    expect(elements[1]).toMatch(/^file '.*missing\.xml'$/);
    expect(elements[2]).toMatch(/^include 'cycle\.xml'/);
  });
});
