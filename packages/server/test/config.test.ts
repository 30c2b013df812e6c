import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskSecrets } from '../src/config/load.js';
import { resolveSecret } from '../src/config/secret.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'parley-config-'));

describe('loadConfig', () => {
  it('needs nothing: every key has a default', () => {
    const config = loadConfig({ env: {}, cwd: emptyDir() });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: './data',
      databaseUrl: '',
      redisUrl: '',
      session: { lifetimeSeconds: 604800 },
      anonymous: { requestsPerMinute: 10 },
      service: { name: 'Parley' },
    });
    expect(config.tiers).toEqual({
      free: { requestsPerMinute: 10, requestsPerDay: 100, features: [], models: ['*'] },
      basic: { requestsPerMinute: 60, requestsPerDay: 1000, features: [], models: ['*'] },
      pro: { requestsPerMinute: 120, requestsPerDay: 5000, features: [], models: ['*'] },
      enterprise: { requestsPerMinute: 500, requestsPerDay: 50000, features: [], models: ['*'] },
    });
  });

  it('reads parley.config.json, then lets PARLEY_* variables override it', () => {
    const cwd = emptyDir();
    writeFileSync(
      join(cwd, 'parley.config.json'),
      JSON.stringify({ port: 4000, service: { name: 'Acme Chat', socials: { github: 'https://github.com/acme' } } }),
    );
    const config = loadConfig({
      cwd,
      env: {
        PARLEY_PORT: '5000',
        PARLEY_CORS_ORIGINS: 'https://a.example, https://b.example',
        PARLEY_TRUST_PROXY: 'true',
      },
    });
    expect(config.port).toBe(5000);
    expect(config.service).toMatchObject({ name: 'Acme Chat', socials: { github: 'https://github.com/acme' } });
    expect(config.cors.origins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.trustProxy).toBe(true);
  });

  it('reads YAML and tier limits from the file given by PARLEY_CONFIG', () => {
    const cwd = emptyDir();
    writeFileSync(join(cwd, 'custom.yaml'), 'tiers:\n  free:\n    requestsPerMinute: 3\n    requestsPerDay: 30\n');
    const config = loadConfig({ cwd, env: { PARLEY_CONFIG: 'custom.yaml' } });
    expect(config.tiers.free).toEqual({ requestsPerMinute: 3, requestsPerDay: 30, features: [], models: ['*'] });
    expect(config.tiers.pro.requestsPerMinute).toBe(120);
  });

  it.each([
    [{ PARLEY_PORT: 'abc' }, /^Invalid configuration: port \(PARLEY_PORT\) must be integer, got "abc"$/],
    [{ PARLEY_PORT: '70000' }, /port \(PARLEY_PORT\) must be <= 65535/],
    [{ PARLEY_DATABASE_URL: 'mysql://x' }, /databaseUrl \(PARLEY_DATABASE_URL\) must match .*got \(hidden\)/],
    [{ PARLEY_REDIS_URL: 'localhost:6379' }, /redisUrl \(PARLEY_REDIS_URL\)/],
    [{ PARLEY_SECRET: 'short' }, /secret \(PARLEY_SECRET\) .*got \(hidden\)/],
    [{ PARLEY_LOG_LEVEL: 'loud' }, /logLevel \(PARLEY_LOG_LEVEL\) must be equal to one of the allowed values/],
  ])('stops on %j with one line naming the key', (env, message) => {
    expect(() => loadConfig({ env, cwd: emptyDir() })).toThrow(ConfigError);
    expect(() => loadConfig({ env, cwd: emptyDir() })).toThrow(message);
  });

  it('refuses unknown PARLEY_* variables, so that a typo is noticed', () => {
    expect(() => loadConfig({ env: { PARLEY_DATABSE_URL: 'postgres://x/y' }, cwd: emptyDir() })).toThrow(
      'Unknown environment variable PARLEY_DATABSE_URL',
    );
    expect(() =>
      loadConfig({ env: { PARLEY_USER_PASSWORD: 'x', PARLEY_TEST_ANYTHING: 'y' }, cwd: emptyDir() }),
    ).not.toThrow();
  });

  it('refuses level thresholds that do not start at 0 and rise', () => {
    for (const levelThresholds of [
      [10, 20],
      [0, 50, 50],
      [0, 100, 40],
    ]) {
      expect(() => loadConfig({ env: {}, cwd: emptyDir(), overrides: { profiles: { levelThresholds } } })).toThrow(
        'profiles.levelThresholds must start at 0 and rise',
      );
    }
    expect(loadConfig({ env: {}, cwd: emptyDir() }).profiles.levelThresholds[0]).toBe(0);
  });

  it('takes a hop count or proxy addresses for trustProxy', () => {
    expect(loadConfig({ env: { PARLEY_TRUST_PROXY: '1' }, cwd: emptyDir() }).trustProxy).toBe(1);
    expect(loadConfig({ env: { PARLEY_TRUST_PROXY: '10.0.0.0/8' }, cwd: emptyDir() }).trustProxy).toBe('10.0.0.0/8');
    expect(loadConfig({ env: { PARLEY_TRUST_PROXY: 'false' }, cwd: emptyDir() }).trustProxy).toBe(false);
  });

  it('names unknown keys and broken files', () => {
    const cwd = emptyDir();
    writeFileSync(join(cwd, 'parley.config.json'), JSON.stringify({ prot: 80 }));
    expect(() => loadConfig({ cwd, env: {} })).toThrow('Invalid configuration: unknown key "prot"');
    writeFileSync(join(cwd, 'parley.config.json'), JSON.stringify({ tiers: { gold: {} } }));
    expect(() => loadConfig({ cwd, env: {} })).toThrow('unknown key "tiers.gold"');
    writeFileSync(join(cwd, 'parley.config.json'), '{ not json');
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/^Cannot read config file .*parley\.config\.json/);
    expect(() => loadConfig({ cwd, env: { PARLEY_CONFIG: 'missing.json' } })).toThrow(/Cannot read config file/);
  });

  it('masks secrets, including passwords inside URLs', () => {
    const config = loadConfig({
      env: {
        PARLEY_SECRET: 'x'.repeat(40),
        PARLEY_DATABASE_URL: 'postgres://parley:hunter2@db:5432/parley',
        PARLEY_REDIS_URL: 'redis://:s3cret@cache:6379',
      },
      cwd: emptyDir(),
    });
    const masked = JSON.stringify(maskSecrets(config));
    expect(masked).not.toMatch(/hunter2|s3cret|xxxxxxxx/);
    expect(maskSecrets(config).databaseUrl).toBe('postgres://parley:********@db:5432/parley');
  });
});

describe('resolveSecret', () => {
  it('generates a secret once and keeps it in the data directory', () => {
    const dataDir = emptyDir();
    const config = loadConfig({ env: { PARLEY_DATA_DIR: dataDir }, cwd: dataDir });
    const first = resolveSecret(config);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(resolveSecret(config)).toBe(first);
  });

  it('refuses a secret file too short to be safe', () => {
    const dataDir = emptyDir();
    writeFileSync(join(dataDir, 'secret'), '\n');
    const config = loadConfig({ env: { PARLEY_DATA_DIR: dataDir }, cwd: dataDir });
    expect(() => resolveSecret(config)).toThrow(/shorter than 32 characters/);
  });

  it('requires an explicit secret when instances share Redis', () => {
    const config = loadConfig({ env: { PARLEY_REDIS_URL: 'redis://127.0.0.1:6379' }, cwd: emptyDir() });
    expect(() => resolveSecret(config)).toThrow(/secret \(PARLEY_SECRET\) must be set when redisUrl is set/);
  });
});
