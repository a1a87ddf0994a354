/**
 * Emits the two schema-wide files: `SbeSchema.ts` (schema id and version, header length,
 * every message's template id and block length, as plain constants importing nothing, so a
 * module can name a template without loading its codec) and `SbeRegistry.ts` (template id
 * -> name, block length, decoder and encoder classes, for code that dispatches on the
 * header's template id).
 */
import type { Schema } from '../ir.js';
import { className, stringLiteral } from './naming.js';

export const SCHEMA_FILE = 'SbeSchema';
export const REGISTRY_FILE = 'SbeRegistry';

export function emitSchemaConstants(schema: Schema, header: string): string {
  const ids = schema.messages.map((m) => `  ${m.name}: ${m.id},`).join('\n');
  const blocks = schema.messages.map((m) => `  ${m.name}: ${m.blockLength},`).join('\n');
  return `${header}
/** The schema's id (every message header carries it). */
export const SCHEMA_ID = ${schema.id};
/** The schema's version: decoders of this version read older messages too. */
export const SCHEMA_VERSION = ${schema.version};
export const SEMANTIC_VERSION = ${stringLiteral(schema.semanticVersion ?? '')};
export const SCHEMA_PACKAGE = ${stringLiteral(schema.package)};
export const BYTE_ORDER = ${stringLiteral(schema.byteOrder)};
/** Bytes of the message header in front of every message. */
export const HEADER_LENGTH = ${schema.headerType.size};

/** Template id of every message, by message name. */
export const TEMPLATE_IDS = {
${ids}
} as const;

/** Block length (fixed fields, this version) of every message, by message name. */
export const BLOCK_LENGTHS = {
${blocks}
} as const;
`;
}

export function emitRegistry(schema: Schema, header: string): string {
  const imports = schema.messages
    .flatMap((m) => [`${className(m.name)}Decoder`, `${className(m.name)}Encoder`])
    .sort()
    .map((c) => `import { ${c} } from './${c}.js';`)
    .join('\n');
  const entries = schema.messages
    .map((m) => {
      const c = className(m.name);
      return `  ${m.name}: { name: ${stringLiteral(m.name)}, templateId: ${m.id}, blockLength: ${m.blockLength}, decoder: ${c}Decoder, encoder: ${c}Encoder },`;
    })
    .join('\n');
  return `${header}${imports}

/** Every message of the schema by name: template id, block length, decoder and encoder classes. */
export const MESSAGES = {
${entries}
} as const;

export type SbeMessageName = keyof typeof MESSAGES;
export type SbeMessageInfo = (typeof MESSAGES)[SbeMessageName];

/** Every message by template id. */
export const MESSAGES_BY_TEMPLATE_ID: ReadonlyMap<number, SbeMessageInfo> = new Map(
  Object.values(MESSAGES).map((m): [number, SbeMessageInfo] => [m.templateId, m]),
);

/** The message a template id names, or undefined when the schema has none. */
export function messageByTemplateId(templateId: number): SbeMessageInfo | undefined {
  return MESSAGES_BY_TEMPLATE_ID.get(templateId);
}
`;
}
