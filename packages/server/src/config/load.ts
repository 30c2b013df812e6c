import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { createRequire } from 'node:module';
import { maskUrlPassword } from '../lib/urls.js';
import { ConfigSchema, SECRET_KEYS, type ChannelConfig, type Config } from './schema.js';

/** A configuration that cannot be used; its message is the one line the operator sees. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type EnvKind = 'string' | 'integer' | 'boolean' | 'list' | 'trust';

/** `PARLEY_*` variables and the config key each one overrides. */
export const ENV_OVERRIDES: Record<string, { key: string; kind: EnvKind }> = {
  PARLEY_PORT: { key: 'port', kind: 'integer' },
  PARLEY_HOST: { key: 'host', kind: 'string' },
  PARLEY_DATA_DIR: { key: 'dataDir', kind: 'string' },
  PARLEY_DATABASE_URL: { key: 'databaseUrl', kind: 'string' },
  PARLEY_DATABASE_POOL_SIZE: { key: 'databasePoolSize', kind: 'integer' },
  PARLEY_REDIS_URL: { key: 'redisUrl', kind: 'string' },
  PARLEY_REDIS_KEY_PREFIX: { key: 'redisKeyPrefix', kind: 'string' },
  PARLEY_SECRET: { key: 'secret', kind: 'string' },
  PARLEY_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
  PARLEY_BODY_LIMIT_BYTES: { key: 'bodyLimitBytes', kind: 'integer' },
  PARLEY_TRUST_PROXY: { key: 'trustProxy', kind: 'trust' },
  PARLEY_CORS_ORIGINS: { key: 'cors.origins', kind: 'list' },
  PARLEY_SESSION_LIFETIME_SECONDS: { key: 'session.lifetimeSeconds', kind: 'integer' },
  PARLEY_ALLOW_REGISTRATION: { key: 'allowRegistration', kind: 'boolean' },
  PARLEY_LOCAL_MODEL: { key: 'localModel', kind: 'string' },
  PARLEY_DEFAULT_MODEL: { key: 'chat.defaultModel', kind: 'string' },
  PARLEY_STREAM_LEASE_MS: { key: 'chat.streamLeaseMs', kind: 'integer' },
  PARLEY_WEBHOOK_ALLOWLIST: { key: 'webhooks.allowlist', kind: 'list' },
};

/** PARLEY_* variables read elsewhere than the config: by the CLI, or by the test suite. */
const OTHER_ENV = /^PARLEY_(CONFIG|USER_PASSWORD|HF_ENDPOINT|TEST_\w+)$/;

const require = createRequire(import.meta.url);
const CONFIG_FILES = ['parley.config.json', 'parley.config.yaml', 'parley.config.yml'];

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Explicit config file; otherwise PARLEY_CONFIG, otherwise parley.config.{json,yaml,yml} in cwd. */
  file?: string;
  /** Values that win over file and environment (used by embedders and tests). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const raw = readConfigFile(options.file ?? env.PARLEY_CONFIG, cwd);
  const sources = new Map<string, string>();

  const unknown = Object.keys(env).find(
    (name) => name.startsWith('PARLEY_') && !ENV_OVERRIDES[name] && !OTHER_ENV.test(name),
  );
  if (unknown)
    throw new ConfigError(`Unknown environment variable ${unknown} (see the README for the PARLEY_* variables)`);
  for (const [name, { key, kind }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined) continue;
    setPath(raw, key, fromEnv(value, kind));
    sources.set(key, name);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key, value);

  // Validation fills in every default, so the result is a complete config.
  const config = structuredClone(raw);
  const validate = new Ajv({ useDefaults: true, strict: false }).compile<Config>(ConfigSchema);
  if (!validate(config)) throw new ConfigError(describe(validate.errors![0]!, config, sources));
  const levels = config.profiles.levelThresholds;
  if (levels[0] !== 0 || levels.some((xp, i) => i > 0 && xp <= levels[i - 1]!)) {
    throw new ConfigError(
      `Invalid configuration: profiles.levelThresholds must start at 0 and rise, got ${JSON.stringify(levels)}`,
    );
  }
  config.channels.push(...channelsFromEnv(env, config.localModel));
  return config;
}

function readConfigFile(file: string | undefined, cwd: string): Record<string, unknown> {
  const path = file ? resolve(cwd, file) : CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  if (!path) return {};
  let parsed: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    // The YAML parser is loaded only for YAML files (config loading is synchronous, hence require).
    parsed = path.endsWith('.json') ? JSON.parse(text) : (require('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${path} must hold an object`);
  }
  return parsed as Record<string, unknown>;
}

/** Env values stay strings when they do not parse, so validation names the key and the bad value. */
function fromEnv(value: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'integer':
      return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      return value;
    case 'trust':
      if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return /^\d+$/.test(value) ? Number(value) : value;
    case 'list':
      return value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return value;
  }
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function describe(error: ErrorObject, config: Record<string, unknown>, sources: Map<string, string>): string {
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    const path = error.instancePath.split('/').filter(Boolean);
    if (extra) path.push(extra);
    return `Invalid configuration: unknown key "${path.join('.')}"`;
  }
  const key = error.instancePath.split('/').filter(Boolean).join('.');
  const source = sources.get(key);
  const value = key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
  const shown = (SECRET_KEYS as readonly string[]).includes(key) ? '(hidden)' : JSON.stringify(value);
  return `Invalid configuration: ${key}${source ? ` (${source})` : ''} ${error.message}, got ${shown}`;
}

/**
 * The usual provider variables each add a channel serving any model, so that exporting
 * OPENAI_API_KEY (or pointing OLLAMA_BASE_URL at a server) is all it takes to start chatting.
 */
function channelsFromEnv(env: NodeJS.ProcessEnv, localModel: string): ChannelConfig[] {
  const channel = (
    name: string,
    provider: ChannelConfig['provider'],
    baseUrl: string,
    apiKey?: string,
    models = ['*'],
  ): ChannelConfig => ({
    name,
    provider,
    baseUrl,
    apiKeys: apiKey ? [apiKey] : [],
    models,
    priority: 0,
    weight: 1,
    strategy: 'priority',
    enabled: true,
    dailyQuota: 0,
  });
  const channels: ChannelConfig[] = [];
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    channels.push(channel('env:openai', 'openai', env.OPENAI_BASE_URL ?? '', env.OPENAI_API_KEY));
  }
  if (env.ANTHROPIC_API_KEY)
    channels.push(channel('env:anthropic', 'anthropic', env.ANTHROPIC_BASE_URL ?? '', env.ANTHROPIC_API_KEY));
  if (env.GOOGLE_API_KEY) channels.push(channel('env:google', 'google', env.GOOGLE_BASE_URL ?? '', env.GOOGLE_API_KEY));
  if (env.OLLAMA_BASE_URL) channels.push(channel('env:ollama', 'ollama', env.OLLAMA_BASE_URL));
  // A local model serves its own name only, so that it never answers for models of other channels.
  if (localModel) channels.push(channel('env:local', 'local', localModel, undefined, [basename(localModel, '.gguf')]));
  return channels;
}

/** The effective config for display: secrets replaced, passwords inside URLs hidden. */
export function maskSecrets(config: Config): Config {
  const masked = structuredClone(config);
  for (const key of SECRET_KEYS)
    masked[key] = key === 'secret' ? (config.secret ? '********' : '') : maskUrlPassword(config[key]);
  for (const channel of masked.channels) channel.apiKeys = channel.apiKeys.map(() => '********');
  for (const provider of [...masked.speech.stt, ...masked.speech.tts]) {
    if (provider.apiKey) provider.apiKey = '********';
  }
  return masked;
}
