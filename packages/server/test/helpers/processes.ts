import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config/schema.js';
import { uniqueSuffix, type Isolated } from './env.js';
import { TEST_SECRET } from './server.js';

/** The built CLI: what `npm start` and operators run. `npm test` builds it first. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment that points a process at the same stores as a test server's config. */
export function envFor(config: Config): Record<string, string> {
  return {
    PARLEY_DATA_DIR: config.dataDir,
    PARLEY_DATABASE_URL: config.databaseUrl,
    PARLEY_REDIS_URL: config.redisUrl,
    PARLEY_REDIS_KEY_PREFIX: config.redisKeyPrefix,
    PARLEY_SECRET: config.secret,
    PARLEY_LOG_LEVEL: 'warn',
  };
}

/**
 * The environment of `parley serve` processes that share the test's stores (and, given a Redis URL,
 * one Redis namespace of their own), with `config` as their config file.
 */
export function sharedStoresEnv(stores: Isolated, config: object, redisUrl: string): Record<string, string> {
  const configFile = join(stores.dataDir, 'parley.config.json');
  writeFileSync(configFile, JSON.stringify(config));
  return {
    PARLEY_CONFIG: configFile,
    PARLEY_DATA_DIR: stores.dataDir,
    PARLEY_DATABASE_URL: stores.databaseUrl,
    PARLEY_REDIS_URL: redisUrl,
    PARLEY_REDIS_KEY_PREFIX: `parley-test:${uniqueSuffix()}:`,
    PARLEY_SECRET: TEST_SECRET,
  };
}

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('PARLEY_')) delete env[key];
  return env;
}

/**
 * Runs the CLI with stdin left open and never written: a command that waited for input would
 * hang here and fail the test by timeout.
 */
export function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...baseEnv(), ...env }, cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A server in a process of its own (`parley serve`), resolved once it listens. */
export function startServerProcess(env: Record<string, string>, cwd: string): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...baseEnv(), PARLEY_LOG_LEVEL: 'info', PARLEY_PORT: '0', PARLEY_HOST: '127.0.0.1', ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output}`));
    }, 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1]!,
          child,
          output: () => output,
          stop: (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}
