import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';

describe('mounting surfaces', () => {
  it('refuses to start when two surfaces declare the same route, naming both', async () => {
    // The OpenAI surface's GET /models lands on the native API's GET /api/v1/models.
    await expect(startServer({ 'surfaces.openai.mount': '/api/v1' })).rejects.toThrow(
      /Route GET \/api\/v1\/models of the openai surface collides with the same route of the server/,
    );
  });

  it('refuses a mount that is not a path', async () => {
    await expect(startServer({ 'surfaces.chatai.mount': 'chatai' })).rejects.toThrow(/surfaces\.chatai\.mount/);
  });

  describe('a surface moved and another disabled', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer({ 'surfaces.openai.mount': '/openai/v1', 'surfaces.chatai.enabled': false });
    });
    afterAll(() => server.close());

    it('serves the moved surface at its new mount, in its own error format', async () => {
      const res = await server.http.get('/openai/v1/models');
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    });

    it('answers unknown routes under a mount in the format of the surface mounted there', async () => {
      const res = await server.http.get('/openai/v1/no-such-route');
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    });

    it('answers a path parameter too long to route in the format of the API it is under', async () => {
      const long = 'x'.repeat(300);
      const zeebee = await server.http.get(`/api/template/${long}`);
      expect(zeebee.status).toBe(414);
      expect(zeebee.body).toMatchObject({ error: expect.any(String), code: 'URI_TOO_LONG' });
      const native = await server.http.get(`/api/v1/conversations/${long}`);
      expect(native.status).toBe(414);
      expect(native.body.error).toMatchObject({ code: 'URI_TOO_LONG' });
    });

    it('keeps the native format under the native prefix although a surface is mounted above it', async () => {
      const res = await server.http.get('/api/v1/no/such/route');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route GET /api/v1/no/such/route not found' } });
      const zeebee = await server.http.get('/api/no/such/route');
      expect(zeebee.status).toBe(404);
      expect(zeebee.body).toMatchObject({ error: expect.any(String), code: 'NOT_FOUND' });
    });

    it('serves nothing of a disabled surface', async () => {
      const res = await server.http.call('POST', '/chatai/api/chat', { body: { message: 'hi', userId: 'u1' } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Route POST /chatai/api/chat not found' } });
    });
  });
});
