import { Type, type SchemaOptions, type TSchema } from '@sinclair/typebox';

/**
 * Schema builders used by config and API schemas alike. Both emit plain `type`/`enum` keywords
 * rather than `anyOf`, which keeps the response serialisers on their fast path.
 */
export const StringEnum = <const T extends readonly string[]>(values: T, options: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: values, ...options });

export const Nullable = <T extends TSchema>(schema: T) =>
  Type.Unsafe<T['static'] | null>({ ...schema, type: [schema.type as string, 'null'] });
