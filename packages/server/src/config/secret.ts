import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './load.js';
import type { Config } from './schema.js';

const MIN_LENGTH = 32;

/**
 * The server secret: from config, else the one kept in `<dataDir>/secret` (created on first start
 * so that sessions survive restarts with zero configuration). Several instances must share one
 * secret, so shared state on Redis requires it to be set explicitly.
 */
export function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  if (config.redisUrl) {
    throw new ConfigError('Invalid configuration: secret (PARLEY_SECRET) must be set when redisUrl is set');
  }
  const file = join(config.dataDir, 'secret');
  const existing = readSecret(file);
  if (existing !== undefined) return existing;
  mkdirSync(config.dataDir, { recursive: true });
  // Written whole under a temporary name, then linked into place: a concurrent process (the CLI,
  // a second server) either finds no file or a complete one, never a half-written secret.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  try {
    linkSync(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temporary);
  }
  return readSecret(file)!;
}

function readSecret(file: string): string | undefined {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (secret.length < MIN_LENGTH) {
    throw new ConfigError(`The secret in ${file} is shorter than ${MIN_LENGTH} characters: replace or remove the file`);
  }
  return secret;
}
