import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Config } from '../config/schema.js';
import type { Core } from '../core/index.js';
import { bambisleepSurface } from './compat/bambisleep/index.js';
import { botyardSurface } from './compat/botyard/index.js';
import { webClientPages } from './compat/botyard/web-client.js';
import { chataiSurface } from './compat/chatai/index.js';
import { zeebeeSurface } from './compat/zeebee/index.js';
import { errorHandler, nativeErrorBody, toApiError } from './errors.js';
import { healthRoutes } from './health.js';
import { registerMetrics } from './metrics.js';
import { securityHeaders } from './security-headers.js';
import { NATIVE_PREFIX, nativeApi } from './native/index.js';
import { staticFiles } from './native/static.js';
import { openAiSurface } from './openai/index.js';
import { realtimeApi } from './realtime/index.js';
import { apiOfPath, guardRoutes, mountSurfaces, type Surface } from './surfaces.js';
import { createValidatorCompiler } from './validation.js';

/** Every wire API besides the native one; those sharing a mount answer unknown routes as the first one does. */
const SURFACES: readonly Surface[] = [openAiSurface, bambisleepSurface, chataiSurface, botyardSurface, zeebeeSurface];

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Response headers a browser client may read across origins. */
const EXPOSED_HEADERS = [
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'retry-after',
  'x-request-id',
  'x-parley-overhead-ms',
];

export interface ServerDeps {
  config: Config;
  core: Core;
  version: string;
  /** Resolves when every store the server depends on answers; rejects otherwise. */
  checkReady: () => Promise<void>;
  logger?: FastifyServerOptions['logger'];
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config } = deps;
  // Errors raised before a route is found (none found, a malformed path) come in the body of the
  // API whose mount holds the path.
  const apiOf = apiOfPath(SURFACES, config, { mount: NATIVE_PREFIX, errorBody: nativeErrorBody });
  const errorBodyOf = (request: FastifyRequest) => apiOf(pathOf(request))?.errorBody ?? nativeErrorBody;
  const app = Fastify({
    logger: deps.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // Fastify takes a hop count too (proxy-addr), though its types do not say so.
    trustProxy: config.trustProxy as boolean | string,
    // A caller's X-Request-Id is kept for tracing only when it is a plain token; logs stay clean.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const apiError = toApiError(error);
      metrics.countError(apiError.code);
      return reply.code(apiError.status).send(errorBodyOf(request)(apiError));
    },
    forceCloseConnections: 'idle',
  });
  app.setValidatorCompiler(createValidatorCompiler());
  const routes = guardRoutes(app);
  // While shutting down, answers to requests in flight close their connection, so that a
  // keep-alive client does not hold the shutdown open until its socket times out.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Once no request is in flight, connections still open serve nobody: a client that aborted a
  // request can leave one that Node counts as busy, which would hold `close()` until it times out.
  // ('close' fires once per response, finished or abandoned; one shared listener, no closure each.)
  let inFlight = 0;
  let drained: (() => void) | undefined;
  function settle() {
    inFlight--;
    if (closing && inFlight === 0) drained?.();
  }
  app.addHook('onRequest', (_request, reply, done) => {
    inFlight++;
    reply.raw.once('close', settle);
    done();
  });
  app.addHook('preClose', (done) => {
    const dropConnections = () => app.server.closeAllConnections();
    if (inFlight === 0) setImmediate(dropConnections);
    else drained = dropConnections;
    done();
  });
  const metrics = registerMetrics(app, () => inFlight);
  app.addHook('onSend', (request, reply, _payload, done) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done();
  });

  app.decorateRequest('principal', null);
  // The native error format is the default for everything outside other surfaces' own scopes.
  app.setErrorHandler(errorHandler(nativeErrorBody, metrics.countError));
  // Paths no API claims may be pages of a web client that routes in the browser.
  const webClientPage = webClientPages(
    config,
    (path) => apiOf(path) !== undefined || ['/static', '/docs'].some((p) => path === p || path.startsWith(`${p}/`)),
  );
  app.setNotFoundHandler((request, reply) => {
    const page = webClientPage?.(request, reply);
    if (page) return page;
    metrics.countError('NOT_FOUND');
    const message = `Route ${request.method} ${pathOf(request)} not found`;
    return reply.code(404).send(errorBodyOf(request)({ status: 404, code: 'NOT_FOUND', message }));
  });

  await app.register(cookie);
  // Without allowed origins there is nothing to answer a browser's cross-origin check with, and a
  // hook per request to skip: same-origin pages and API clients need no CORS headers.
  if (config.cors.origins.length) {
    await app.register(cors, { origin: config.cors.origins, credentials: true, exposedHeaders: EXPOSED_HEADERS });
  }
  // Plain-HTTP deployments on a LAN are normal for a self-hosted server: do not force upgrades to HTTPS.
  // Set before the handler runs, so that a route with needs of its own (the docs' CSP) can override.
  const security = securityHeaders({
    hsts: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(security);
    done();
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `${config.service.name} API`, description: config.service.description, version: deps.version },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`pk_…`) or a session token' },
          session: { type: 'apiKey', in: 'cookie', name: 'parley_session' },
          botKey: { type: 'http', scheme: 'bearer', description: "An external bot's key (`bk_…`), on the bot API" },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
  });
  // Before every other route (and after swagger, which documents it), so that each route closes a
  // WebSocket upgrade it does not take instead of leaving its socket open.
  await realtimeApi(app, { core: deps.core, config, registry: metrics.registry });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // No calls to the public schema validator, and no forced HTTPS (see helmet above).
    uiConfig: { validatorUrl: null },
    staticCSP: true,
    transformStaticCSP: (header) =>
      header.replace(/\s*upgrade-insecure-requests;?/, '').replace(' validator.swagger.io', ''),
  });

  healthRoutes(app, { registry: metrics.registry, checkReady: deps.checkReady });
  app.get(`${NATIVE_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  await nativeApi(app, { core: deps.core, config, version: deps.version });
  await staticFiles(app, deps.core);
  await mountSurfaces(
    app,
    SURFACES,
    { core: deps.core, config, version: deps.version, countError: metrics.countError },
    routes,
  );
  return app;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0]!;
}
