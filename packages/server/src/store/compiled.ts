import { CompiledQuery } from 'kysely';

/**
 * A hot query compiled once: its SQL text is kept and each call binds its own parameters, in the
 * order the compiled query takes them. Building and compiling a Kysely query costs more than
 * running it on SQLite, and these run on every request.
 */
export function compiledOnce(compile: () => CompiledQuery): (parameters: readonly unknown[]) => CompiledQuery {
  let sql: string | undefined;
  return (parameters) => CompiledQuery.raw((sql ??= compile().sql), [...parameters]);
}
