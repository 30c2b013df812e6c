import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Core } from '../core/index.js';
import { errorHandler, type ApiError } from './errors.js';
import type { NativeApp } from './native/types.js';

export type SurfaceName = keyof Config['surfaces'];

export interface SurfaceContext {
  core: Core;
  config: Config;
  version: string;
  /** Where the surface is mounted: its routes are relative to it, links it hands out are not. */
  mount: string;
  countError: (code: string) => void;
}

/**
 * One wire API over the core: the error body its document specifies and its routes. The routes run
 * in a scope of their own (their hooks, auth and error handler touch no other surface).
 */
export interface Surface {
  name: SurfaceName;
  errorBody(error: ApiError): unknown;
  routes: SurfaceRoutes;
  /** Routes at paths of their own, outside the mount (a WebSocket at a configured path). */
  unprefixedRoutes?: SurfaceRoutes;
}

type SurfaceRoutes = (app: NativeApp, context: SurfaceContext) => Promise<void> | void;

/**
 * Records which part of the server declares each route, so that a route declared twice stops the
 * server with both names rather than Fastify's bare duplicate. Add it before any route.
 */
export function guardRoutes(app: FastifyInstance): { as(owner: string, register: () => Promise<void>): Promise<void> } {
  const owners = new Map<string, string>();
  let current = 'the server';
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // Fastify adds a HEAD route to each GET route; the GET routes collide first.
      if (method === 'HEAD') continue;
      const key = `${method} ${route.url}`;
      const owner = owners.get(key);
      if (owner !== undefined) {
        throw new Error(
          `Route ${key} of ${current} collides with the same route of ${owner}: change a surface's mount`,
        );
      }
      owners.set(key, current);
    }
  });
  return {
    async as(owner, register) {
      current = owner;
      try {
        await register();
      } finally {
        current = 'the server';
      }
    },
  };
}

/** Which API a path belongs to: the one with the longest mount that holds it. */
export function apiOfPath(
  surfaces: readonly Surface[],
  config: Config,
  native: { mount: string; errorBody: Surface['errorBody'] },
): (path: string) => { mount: string; errorBody: Surface['errorBody'] } | undefined {
  // The first surface on a mount answers for it; the native API answers for its own prefix.
  const apis = [native];
  for (const surface of surfaces) {
    const { enabled, mount } = config.surfaces[surface.name];
    if (enabled && !apis.some((api) => api.mount === mount)) apis.push({ mount, errorBody: surface.errorBody });
  }
  apis.sort((a, b) => b.mount.length - a.mount.length);
  return (path) => apis.find(({ mount }) => path === mount || path.startsWith(`${mount}/`));
}

/** Mounts the enabled surfaces, each in a scope of its own with its error body. */
export async function mountSurfaces(
  app: FastifyInstance,
  surfaces: readonly Surface[],
  context: Omit<SurfaceContext, 'mount'>,
  guard: ReturnType<typeof guardRoutes>,
): Promise<void> {
  for (const surface of surfaces) {
    const { enabled, mount } = context.config.surfaces[surface.name];
    if (!enabled) continue;
    const scoped = (parent: FastifyInstance, routes: SurfaceRoutes) =>
      guard.as(`the ${surface.name} surface`, async () => {
        await parent.register(async (scope) => {
          scope.setErrorHandler(errorHandler((error) => surface.errorBody(error), context.countError));
          await routes.call(surface, scope.withTypeProvider<TypeBoxTypeProvider>(), { ...context, mount });
        });
      });
    if (surface.unprefixedRoutes) await scoped(app, surface.unprefixedRoutes);
    await app.register((prefixed) => scoped(prefixed, surface.routes), { prefix: mount });
  }
}
