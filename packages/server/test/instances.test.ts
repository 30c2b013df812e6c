import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, signUp } from './helpers/accounts.js';
import { TEST_REDIS_URL, isolatedStores, redisAvailable, type Isolated } from './helpers/env.js';
import { HttpClient } from './helpers/http.js';
import { sharedStoresEnv, startServerProcess, type ServerProcess } from './helpers/processes.js';
import { TEST_SECRET, generousLimits } from './helpers/server.js';

const hasRedis = await redisAvailable();

/** Two `parley serve` processes on the same database and the same Redis, as behind a load balancer. */
describe.skipIf(!hasRedis)('two instances sharing one Redis', () => {
  let stores: Isolated;
  let a: ServerProcess;
  let b: ServerProcess;
  let httpA: HttpClient;
  let httpB: HttpClient;
  const perMinute = 6;

  beforeAll(async () => {
    stores = await isolatedStores();
    const env = sharedStoresEnv(
      stores,
      {
        ...generousLimits,
        tiers: { ...generousLimits.tiers, free: { requestsPerMinute: perMinute, requestsPerDay: 1000 } },
      },
      TEST_REDIS_URL,
    );
    [a, b] = await Promise.all([startServerProcess(env, stores.dataDir), startServerProcess(env, stores.dataDir)]);
    httpA = new HttpClient(a.url);
    httpB = new HttpClient(b.url);
    await signUp(httpA, 'firstadmin');
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await stores?.cleanup();
  });

  it('holds a user to one quota across both instances', async () => {
    const account = await signUp(httpA); // the key creation is the first counted request
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const http = i % 2 ? httpB : httpA;
      statuses.push((await http.get('/api/v1/me', { bearer: account.key })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = await httpB.get('/api/v1/me', { bearer: account.key });
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
  });

  it('shares sessions, logouts and key revocations at once', async () => {
    const account = await signUp(httpB);
    expect((await httpA.get('/api/v1/me', { cookie: account.cookie })).status).toBe(200);
    await httpB.post('/api/v1/auth/logout', undefined, { cookie: account.cookie });
    expect((await httpA.get('/api/v1/me', { cookie: account.cookie })).status).toBe(401);

    const keys = (await httpA.get('/api/v1/keys', { bearer: account.key })).body.items;
    expect((await httpA.delete(`/api/v1/keys/${keys[0].id}`, { bearer: account.key })).status).toBe(204);
    expect((await httpB.get('/api/v1/me', { bearer: account.key })).status).toBe(401);
  });
});

describe('graceful shutdown', () => {
  let stores: Isolated;
  beforeAll(async () => {
    stores = await isolatedStores();
  });
  afterAll(() => stores.cleanup());

  it('finishes the request in flight on SIGTERM, refuses new ones, and exits cleanly', async () => {
    const server = await startServerProcess(
      { PARLEY_DATA_DIR: stores.dataDir, PARLEY_DATABASE_URL: stores.databaseUrl, PARLEY_SECRET: TEST_SECRET },
      stores.dataDir,
    );
    const body = JSON.stringify({ username: 'latecomer', password: PASSWORD });
    const { port } = new URL(server.url);
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/auth/register',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on('error', reject);
      // Half the body now, the rest after the signal: the request is in flight when shutdown starts.
      req.write(body.slice(0, 10));
      setTimeout(() => {
        exit = server.stop('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    let exit: Promise<number | null> | undefined;

    const { status, text } = await response;
    expect(status).toBe(201);
    expect(JSON.parse(text).user.username).toBe('latecomer');
    expect(await exit).toBe(0);
    expect(server.output()).toContain('shutting down');
    expect(server.output()).toContain('"msg":"stopped"');
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
