import type { Command } from 'commander';
import { openRuntime, type Runtime } from '../app.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function configOf(command: Command): Config {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfig({ file: config });
}

/** Runs a data command against the same stores a running server uses, then closes them. */
export async function withRuntime<T>(command: Command, run: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(configOf(command));
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}
