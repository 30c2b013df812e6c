import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function ajv(options: Options): Ajv {
  const instance = new Ajv({ allErrors: false, useDefaults: true, strict: false, ...options });
  addFormats.default(instance);
  return instance;
}

/**
 * Bodies are validated as sent: no type coercion and no silent stripping of unknown fields, so a
 * wrong type or a misspelt field is a 400, never a surprise. Query strings, params and headers are
 * text by nature and are coerced to the declared types.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodies = ajv({ coerceTypes: false, removeAdditional: false });
  const text = ajv({ coerceTypes: 'array', removeAdditional: false });
  return ({ schema, httpPart }) => (httpPart === 'body' ? bodies : text).compile(schema as object);
}
