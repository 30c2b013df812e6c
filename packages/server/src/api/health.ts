import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Probes for orchestrators and monitoring, outside any API surface. While the server shuts down they answer 503. */
export function healthRoutes(
  app: FastifyInstance,
  deps: { registry: Registry; checkReady: () => Promise<void> },
): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (request, reply) => {
    try {
      await deps.checkReady();
      return { status: 'ready' };
    } catch (err) {
      request.log.warn({ err }, 'not ready');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(deps.registry.contentType);
    return deps.registry.metrics();
  });
}
