/**
 * The intermediate representation of an SBE 1.0 schema: every type reference resolved,
 * every offset and size computed, versions made effective. The parser builds it, the
 * validator has checked it, and both the code generator and the run-time interpreter read
 * it; nothing downstream looks at XML again.
 */

export type PrimitiveType =
  | 'char' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float' | 'double';

export type ByteOrder = 'littleEndian' | 'bigEndian';
export type Presence = 'required' | 'optional' | 'constant';

export interface PrimitiveInfo {
  size: number;
  /** 64-bit integers are bigint in TypeScript, everything else number. */
  big: boolean;
  float: boolean;
  signed: boolean;
  nullValue: string;
  minValue: string;
  maxValue: string;
}

const F32_MAX = '3.4028234663852886e+38';
const F64_MAX = '1.7976931348623157e+308';

export const PRIMITIVES: Readonly<Record<PrimitiveType, PrimitiveInfo>> = {
  char: { size: 1, big: false, float: false, signed: false, nullValue: '0', minValue: '32', maxValue: '126' },
  int8: { size: 1, big: false, float: false, signed: true, nullValue: '-128', minValue: '-127', maxValue: '127' },
  uint8: { size: 1, big: false, float: false, signed: false, nullValue: '255', minValue: '0', maxValue: '254' },
  int16: { size: 2, big: false, float: false, signed: true, nullValue: '-32768', minValue: '-32767', maxValue: '32767' },
  uint16: { size: 2, big: false, float: false, signed: false, nullValue: '65535', minValue: '0', maxValue: '65534' },
  int32: { size: 4, big: false, float: false, signed: true, nullValue: '-2147483648', minValue: '-2147483647', maxValue: '2147483647' },
  uint32: { size: 4, big: false, float: false, signed: false, nullValue: '4294967295', minValue: '0', maxValue: '4294967294' },
  int64: { size: 8, big: true, float: false, signed: true, nullValue: '-9223372036854775808', minValue: '-9223372036854775807', maxValue: '9223372036854775807' },
  uint64: { size: 8, big: true, float: false, signed: false, nullValue: '18446744073709551615', minValue: '0', maxValue: '18446744073709551614' },
  float: { size: 4, big: false, float: true, signed: true, nullValue: 'NaN', minValue: `-${F32_MAX}`, maxValue: F32_MAX },
  double: { size: 8, big: false, float: true, signed: true, nullValue: 'NaN', minValue: `-${F64_MAX}`, maxValue: F64_MAX },
};

export function isPrimitiveType(name: string): name is PrimitiveType {
  return Object.prototype.hasOwnProperty.call(PRIMITIVES, name);
}

interface TypeBase {
  name: string;
  description?: string;
  semanticType?: string;
  sinceVersion: number;
  deprecated?: number;
  /** Bytes on the wire (0 for constants). */
  size: number;
}

/** `<type>`: a primitive, a fixed array of primitives, or a constant. */
export interface EncodedType extends TypeBase {
  kind: 'type';
  primitiveType: PrimitiveType;
  /** Array length; 1 for a scalar. */
  length: number;
  presence: Presence;
  nullValue: string;
  minValue: string;
  maxValue: string;
  /** Text of a constant (trimmed); for a char constant, the characters. */
  constValue?: string;
  characterEncoding?: string;
  /**
   * A 64-bit integer type mapped to a JavaScript `number` instead of `bigint` (the schema's
   * `jsType="number"`, on the `<type>` or on a `<field>` using it). Its accessors accept and
   * return safe integers only (and -2^63, the int64 null value, which a double holds exactly).
   */
  jsNumber?: boolean;
}

export interface EnumValue {
  name: string;
  /** Integer value; for a char encoding, the character code. */
  value: number;
  description?: string;
  sinceVersion: number;
  deprecated?: number;
}

export interface EnumType extends TypeBase {
  kind: 'enum';
  encoding: PrimitiveType;
  values: EnumValue[];
  nullValue: number;
  presence: Presence;
}

export interface SetChoice {
  name: string;
  bit: number;
  description?: string;
  sinceVersion: number;
  deprecated?: number;
}

export interface SetType extends TypeBase {
  kind: 'set';
  encoding: PrimitiveType;
  choices: SetChoice[];
}

export interface CompositeMember {
  name: string;
  offset: number;
  type: TypeDef;
  sinceVersion: number;
  deprecated?: number;
}

export interface CompositeType extends TypeBase {
  kind: 'composite';
  members: CompositeMember[];
}

export type TypeDef = EncodedType | EnumType | SetType | CompositeType;

export interface Field {
  name: string;
  id: number;
  description?: string;
  semanticType?: string;
  type: TypeDef;
  /** Offset in the block (meaningless for constants). */
  offset: number;
  /** Field-level presence: a constant field (valueRef or constant type) is not on the wire. */
  presence: Presence;
  /** For a constant enum field: the enum value name (from valueRef). */
  constEnumValue?: string;
  sinceVersion: number;
  deprecated?: number;
}

export interface VarData {
  name: string;
  id: number;
  description?: string;
  semanticType?: string;
  type: CompositeType;
  lengthType: PrimitiveType;
  lengthOffset: number;
  dataOffset: number;
  /** Largest length the length member allows (its maxValue or its primitive's max). */
  maxLength: number;
  characterEncoding?: string;
  sinceVersion: number;
  deprecated?: number;
}

export interface Group {
  name: string;
  id: number;
  description?: string;
  semanticType?: string;
  dimension: CompositeType;
  blockLength: number;
  fields: Field[];
  groups: Group[];
  data: VarData[];
  sinceVersion: number;
  deprecated?: number;
}

export interface Message {
  name: string;
  id: number;
  description?: string;
  semanticType?: string;
  blockLength: number;
  fields: Field[];
  groups: Group[];
  data: VarData[];
  sinceVersion: number;
  deprecated?: number;
}

export interface Schema {
  package: string;
  id: number;
  version: number;
  semanticVersion?: string;
  description?: string;
  byteOrder: ByteOrder;
  headerType: CompositeType;
  /** Every named type, in document order (nested enums, sets and composites included). */
  types: TypeDef[];
  messages: Message[];
}

/** A node of the message tree that holds a block of fields, groups and var data. */
export type Block = Message | Group;
