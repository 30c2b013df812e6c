import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

function ajv(options: Options): Ajv {
  return new Ajv({ allErrors: false, useDefaults: true, strict: false, ...options });
}

/**
 * Bodies are validated as sent: no type coercion and no silent stripping of unknown fields, so a
 * wrong type or a misspelt field is a 400, never a surprise. Query strings, params and headers are
 * text by nature and are coerced to the declared types.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodies = ajv({ coerceTypes: false, removeAdditional: false });
  const text = ajv({ coerceTypes: 'array', removeAdditional: false });
  return ({ schema, httpPart }) => lazily(() => (httpPart === 'body' ? bodies : text).compile(schema as object));
}

/**
 * Compiles a route's validator on the route's first request rather than at start: compiling every
 * schema up front was a fifth of the time to ready, for routes a given deployment may never see.
 */
function lazily(compile: () => ValidateFunction): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = ((data: unknown) => {
    compiled ??= compile();
    const valid = compiled(data);
    // Fastify reads the errors off the function it was given.
    validate.errors = compiled.errors;
    return valid;
  }) as ValidateFunction;
  return validate;
}
