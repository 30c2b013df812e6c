import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './process.js';

export const PARLEY_MAIN = join(repoRoot, 'packages/server/dist/cli/main.js');

// PARLEY_* variables (a developer's PARLEY_DATABASE_URL, PARLEY_SECRET…) would change what is measured, and the
// usual provider variables (OPENAI_API_KEY…) each add a channel, which could route benchmark traffic elsewhere.
const INHERITED = /^(PARLEY|OPENAI|ANTHROPIC|GOOGLE|OLLAMA)_/;

/** This process's environment without the variables that configure Parley, plus `extra`. */
export function cleanEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !INHERITED.test(name)));
  return { ...env, ...extra };
}

/** Runs a `parley` CLI command to completion and returns its stdout; a failure throws with its output. */
export async function parleyCli(args, { cwd, env }) {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [PARLEY_MAIN, ...args], { cwd, env });
    return stdout;
  } catch (err) {
    throw new Error(`parley ${args.join(' ')} failed:\n${`${err.stdout ?? ''}${err.stderr ?? ''}`.trim()}`);
  }
}
