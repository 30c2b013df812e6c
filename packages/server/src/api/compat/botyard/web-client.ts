import { createReadStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../../config/schema.js';

/**
 * The web client's pages may show bot avatars from anywhere (they are URLs the bots' authors
 * chose) and play attached media; otherwise the policy is the server's strict default.
 */
const WEB_CLIENT_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self' https: data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data: blob: https:",
  "media-src 'self' blob:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' https: 'unsafe-inline'",
].join('; ');

/** The directory of the Botyard web client to serve, when one is configured; checked at start. */
export function webRootOf(config: Config): string | undefined {
  const { enabled, webRoot } = config.surfaces.botyard;
  if (!enabled || !webRoot) return undefined;
  const root = resolve(webRoot);
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`surfaces.botyard.webRoot: there is no index.html in ${root}`);
  }
  return root;
}

/**
 * The web client's files at their paths under `/`. The routes are the files found at start: a
 * catch-all route would also answer paths under the API mounts, whose unknown routes must keep
 * their surface's not-found answer.
 */
export async function webClientFiles(app: FastifyInstance, root: string): Promise<void> {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('content-security-policy', WEB_CLIENT_CSP);
    done();
  });
  await app.register(fastifyStatic, { root, wildcard: false, index: 'index.html', decorateReply: false });
}

/**
 * The web client routes its pages in the browser (`/bot/<id>`): a page requested at such a path
 * (a browser navigation, which asks for HTML) is answered with index.html, unless the path is
 * the server's own. For the server's not-found handler; undefined when no client is served.
 */
export function webClientPages(
  config: Config,
  serverPath: (path: string) => boolean,
): ((request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined) | undefined {
  const root = webRootOf(config);
  if (root === undefined) return undefined;
  const index = join(root, 'index.html');
  return (request, reply) => {
    const page =
      (request.method === 'GET' || request.method === 'HEAD') &&
      request.headers.accept?.includes('text/html') &&
      !serverPath(request.url.split('?')[0]!);
    if (!page) return undefined;
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', WEB_CLIENT_CSP)
      .send(createReadStream(index));
  };
}
