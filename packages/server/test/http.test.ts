import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, freshName, signUp } from './helpers/accounts.js';
import { startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ bodyLimitBytes: 4096, 'cors.origins': ['https://chat.example.com'] });
});
afterAll(() => server.close());

const api = () => server.http;

async function userCount(): Promise<number> {
  const rows = await server.parley.database.db.selectFrom('users').select('id').execute();
  return rows.length;
}

describe('bad input', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const res = await api().get('/api/v1/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route GET /api/v1/no/such/route not found' } });
  });

  it('refuses malformed JSON with 400 and writes nothing', async () => {
    const before = await userCount();
    const res = await api().call('POST', '/api/v1/auth/register', { rawBody: '{"username": "x", ' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'VALIDATION_ERROR', message: 'Body is not valid JSON' });
    expect(await userCount()).toBe(before);
  });

  it('refuses an oversize body with 413 and writes nothing', async () => {
    const before = await userCount();
    const res = await api().call('POST', '/api/v1/auth/register', {
      rawBody: JSON.stringify({ username: freshName(), password: 'p'.repeat(8000) }),
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await userCount()).toBe(before);
  });

  it('refuses an unsupported content type with 415', async () => {
    const res = await api().call('POST', '/api/v1/auth/register', { rawBody: 'username=a', contentType: 'text/xml' });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a missing body and a body that is not an object', async () => {
    const empty = await api().call('POST', '/api/v1/auth/register', { rawBody: '' });
    expect(empty.status).toBe(400);
    const array = await api().post('/api/v1/auth/register', [{ username: 'a', password: PASSWORD }]);
    expect(array.status).toBe(400);
    expect(array.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('refuses a number where a string belongs instead of coercing it', async () => {
    const before = await userCount();
    const res = await api().post('/api/v1/auth/register', { username: 12345, password: PASSWORD });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'username', in: 'body' } });
    expect(await userCount()).toBe(before);
  });
});

describe('probes and documents', () => {
  it('serves /healthz and /readyz', async () => {
    expect((await api().get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await api().get('/readyz')).body).toEqual({ status: 'ready' });
  });

  it('serves Prometheus metrics with requests, latency, in-flight and errors by code', async () => {
    await api().get('/api/v1/me');
    const res = await api().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = res.body as string;
    expect(text).toMatch(/parley_http_requests_total\{method="GET",route="\/api\/v1\/me",status="401"\} \d+/);
    expect(text).toMatch(
      /parley_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/me"\}/,
    );
    expect(text).toMatch(/parley_http_requests_in_flight \d+/);
    expect(text).toMatch(/parley_http_errors_total\{code="UNAUTHORIZED"\} \d+/);
    expect(text).toContain('parley_process_resident_memory_bytes');
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await api().get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.keys(res.body.paths);
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/login',
      '/api/v1/me',
      '/api/v1/keys',
      '/api/v1/keys/{id}',
      '/api/v1/admin/users',
    ]) {
      expect(paths).toContain(path);
    }
    const register = res.body.paths['/api/v1/auth/register'].post;
    expect(register.requestBody.content['application/json'].schema.properties.username.minLength).toBe(3);
    // Public routes need no credentials; every route documents the error body.
    expect(register.security).toEqual([]);
    expect(res.body.paths['/api/v1/me'].get.security).toBeUndefined();
    const errorSchema = res.body.paths['/api/v1/me'].get.responses['4XX'].content['application/json'].schema;
    expect(errorSchema.properties.error.required).toEqual(['code', 'message']);
  });

  it('serves human docs at /docs', async () => {
    const res = await fetch(`${server.url}/docs/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('swagger');
  });
});

describe('headers', () => {
  it('sends security headers and echoes or creates a request id', async () => {
    const res = await api().get('/api/v1/service', { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const generated = await api().get('/api/v1/service');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('allows CORS only for configured origins, with credentials', async () => {
    const allowed = await api().call('OPTIONS', '/api/v1/me', {
      headers: { origin: 'https://chat.example.com', 'access-control-request-method': 'GET' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://chat.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const denied = await api().get('/api/v1/service', { headers: { origin: 'https://evil.example.net' } });
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never returns a password hash in any user body', async () => {
    const account = await signUp(api());
    for (const path of ['/api/v1/me', '/api/v1/keys']) {
      const res = await api().get(path, { bearer: account.key });
      expect(JSON.stringify(res.body)).not.toMatch(/argon2|passwordHash|keyHash/);
    }
  });
});
