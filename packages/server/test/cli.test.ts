import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from './helpers/http.js';
import { envFor, runCli } from './helpers/processes.js';
import { TEST_SECRET, startServer, type TestServer } from './helpers/server.js';

// A server runs on the same stores while the CLI changes data under it.
let server: TestServer;
let env: Record<string, string>;
let cwd: string;
beforeAll(async () => {
  server = await startServer();
  env = envFor(server.config);
  cwd = server.config.dataDir;
});
afterAll(() => server.close());

const cli = (...args: string[]) => runCli(args, env, cwd);
const login = (username: string, password: string) => server.http.post('/api/v1/auth/login', { username, password });

describe('parley user', () => {
  it('creates the first user as admin with a generated password, printed once', async () => {
    const res = await cli('user', 'create', 'Operator');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/created user operator \(id \w+, role admin, tier free\)/);
    const password = /password: (\S+)/.exec(res.stdout)![1]!;
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect((await login('operator', password)).body.user.role).toBe('admin');
  });

  it('takes the password from --password, else PARLEY_USER_PASSWORD', async () => {
    const flag = await cli('user', 'create', 'withflag', '--password', 'flag password 1', '--tier', 'pro');
    expect(flag.code).toBe(0);
    expect(flag.stdout).not.toContain('password:');
    expect((await login('withflag', 'flag password 1')).body.user).toMatchObject({ role: 'user', tier: 'pro' });

    const fromEnv = await runCli(
      ['user', 'create', 'withenv'],
      { ...env, PARLEY_USER_PASSWORD: 'env password 1' },
      cwd,
    );
    expect(fromEnv.code).toBe(0);
    expect((await login('withenv', 'env password 1')).status).toBe(200);
  });

  it('creates admins with --admin and changes tiers with set-tier', async () => {
    expect((await cli('user', 'create', 'second-admin', '--admin', '--password', 'admin password')).code).toBe(0);
    expect((await login('second-admin', 'admin password')).body.user.role).toBe('admin');
    const set = await cli('user', 'set-tier', 'second-admin', 'enterprise');
    expect(set.code).toBe(0);
    expect((await login('second-admin', 'admin password')).body.user.tier).toBe('enterprise');
  });

  it('refuses bad input with one clear line and a non-zero exit, changing nothing', async () => {
    const badTier = await cli('user', 'set-tier', 'second-admin', 'platinum');
    expect(badTier.code).not.toBe(0);
    expect(badTier.stderr).toMatch(/tier must be one of free, basic, pro, enterprise/);
    const taken = await cli('user', 'create', 'OPERATOR', '--password', 'whatever123');
    expect(taken.code).toBe(1);
    expect(taken.stderr.trim()).toBe('parley: Username is already taken');
    const badName = await cli('user', 'create', 'a!', '--password', 'whatever123');
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^parley: username must be/);
    const unknown = await cli('user', 'set-tier', 'nobody', 'pro');
    expect(unknown.stderr.trim()).toBe('parley: User not found');
  });
});

describe('parley key', () => {
  it('creates, lists and revokes keys, and a running server refuses a revoked key at once', async () => {
    await cli('user', 'create', 'keyholder', '--password', 'keyholder pass');
    const created = await cli('key', 'create', 'keyholder', '--name', 'deploy', '--expires-in-days', '30');
    expect(created.code).toBe(0);
    const key = /key: (pk_\S+)/.exec(created.stdout)![1]!;
    const id = /created key (\w+)/.exec(created.stdout)![1]!;
    const http = new HttpClient(server.url);
    expect((await http.get('/api/v1/me', { bearer: key })).body.user.username).toBe('keyholder');

    const list = await cli('key', 'list', 'keyholder');
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/active/);
    expect(list.stdout).not.toContain(key);

    expect((await cli('key', 'revoke', id)).code).toBe(0);
    expect((await http.get('/api/v1/me', { bearer: key })).status).toBe(401);
    expect((await cli('key', 'list', 'keyholder')).stdout).toMatch(/revoked/);
    expect((await cli('key', 'revoke', id)).stderr.trim()).toBe('parley: API key not found');
  });
});

describe('parley config print and migrate', () => {
  it('prints the effective config with secrets masked', async () => {
    const res = await runCli(['config', 'print'], { ...env, PARLEY_PORT: '4321' }, cwd);
    expect(res.code).toBe(0);
    const printed = JSON.parse(res.stdout);
    expect(printed.port).toBe(4321);
    expect(printed.secret).toBe('********');
    expect(res.stdout).not.toContain(TEST_SECRET);
    expect(printed.tiers.free).toEqual({ requestsPerMinute: 10, requestsPerDay: 100, features: [], models: ['*'] });
  });

  it('stops on a bad value with one line naming the key', async () => {
    const res = await runCli(['config', 'print'], { ...env, PARLEY_PORT: 'eighty' }, cwd);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/port \(PARLEY_PORT\)/);
  });

  it('reports the database as up to date after the server migrated it', async () => {
    const res = await cli('migrate');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe('database is up to date');
  });
});
