import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthMode, Gatekeeper } from '../core/accounts/admission.js';
import type { Principal } from '../core/accounts/authenticate.js';
import type { SessionService } from '../core/accounts/sessions.js';
import { callerOf as callerOfPrincipal, type Caller } from '../core/conversations/replies.js';
import { Unauthorized } from '../core/errors.js';
import type { SurfaceLimit } from '../core/quotas.js';
import { setRateLimitHeaders } from './errors.js';

export const SESSION_COOKIE = 'parley_session';
/** The botyard surface's session cookie, named as Botyard's clients expect. */
export const BOTYARD_SESSION_COOKIE = 'token';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Default `required`; see `AuthMode`. */
    auth?: AuthMode;
    /** Counted against the caller's request quota (default true). */
    quota?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The authenticated principal of a route whose `auth` is `required`. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Unauthorized();
  return request.principal;
}

/** Who asks, with which key, through which surface: what the usage ledger records of a request. */
export function callerOf(request: FastifyRequest, surface: string): Caller {
  return callerOfPrincipal(principalOf(request), surface);
}

/** Sets the session cookie: httpOnly, SameSite=Lax, Secure whenever the request came over HTTPS. */
export function setSessionCookie(reply: FastifyReply, token: string, lifetimeMs: number, name = SESSION_COOKIE): void {
  reply.setCookie(name, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: 'auto',
    maxAge: Math.floor(lifetimeMs / 1000),
  });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' });
}

/** The bearer token of the Authorization header; `malformed` when the header holds something else. */
export function bearerToken(request: FastifyRequest): { bearer?: string; malformed?: boolean } {
  const header = request.headers.authorization;
  if (!header) return {};
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? { bearer: match[1] } : { malformed: true };
}

/**
 * Admission (authentication and quota, decided in the core) for every route of a surface, before
 * its body is even read. A surface without cookies takes bearer tokens only, as API clients send them;
 * one whose clients send their key in a header of its own (`keyHeader`, in lower case) takes that
 * too, when no Authorization header is sent. `cookies` names the session cookies read (`true`: the
 * native one), the first one sent counting; a renewed session goes back into the cookie it came in.
 * A surface whose document promises rate limits of its own counts them with `limit`.
 */
export function registerAuthHooks(
  app: FastifyInstance,
  deps: { gatekeeper: Gatekeeper; sessions: SessionService },
  options: { cookies: boolean | readonly string[]; keyHeader?: string; limit?: SurfaceLimit } = { cookies: true },
): void {
  const cookies = options.cookies === true ? [SESSION_COOKIE] : options.cookies === false ? [] : options.cookies;
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const { bearer, malformed } = options.keyHeader ? keyOrBearer(request, options.keyHeader) : bearerToken(request);
    const cookie = cookies.find((name) => request.cookies[name] !== undefined);
    const admission = await deps.gatekeeper.admit({
      credentials: { bearer, sessionCookie: cookie && request.cookies[cookie] },
      malformed,
      ip: request.ip,
      auth: config.auth ?? 'required',
      quota: config.quota !== false,
      surfaceLimit: options.limit,
    });
    request.principal = admission.principal ?? null;
    if (admission.limit) setRateLimitHeaders(reply, admission.limit);
    if (admission.renewedCookie) setSessionCookie(reply, admission.renewedCookie, deps.sessions.lifetimeMs, cookie);
  });
}

function keyOrBearer(request: FastifyRequest, keyHeader: string): { bearer?: string; malformed?: boolean } {
  const key = request.headers[keyHeader];
  if (request.headers.authorization || typeof key !== 'string' || !key.trim()) return bearerToken(request);
  return { bearer: key.trim() };
}
