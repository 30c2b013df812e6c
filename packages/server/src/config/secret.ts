import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './load.js';
import type { Config } from './schema.js';

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
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // Another process on the same data directory created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw err;
  }
}
