import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator, Principal } from '../core/accounts/authenticate.js';
import type { SessionService } from '../core/accounts/sessions.js';
import { Unauthorized } from '../core/errors.js';
import type { QuotaService } from '../core/quotas.js';
import { setRateLimitHeaders } from './errors.js';

export const SESSION_COOKIE = 'parley_session';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `required` (default): 401 without valid credentials; `optional`: anonymous allowed; `none`: not looked at. */
    auth?: 'required' | 'optional' | 'none';
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

/** Sets the session cookie: httpOnly, SameSite=Lax, Secure whenever the request came over HTTPS. */
export function setSessionCookie(reply: FastifyReply, token: string, lifetimeMs: number): void {
  reply.setCookie(SESSION_COOKIE, token, {
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

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new Unauthorized('Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Authentication and quota for every route of a surface (a surface without cookies takes bearer
 * tokens only, as API clients send them), before its body is even read: the
 * principal (if any) is resolved from the bearer token or session cookie, then one request is
 * counted against the user's tier (or the caller's IP when anonymous).
 */
export function registerAuthHooks(
  app: FastifyInstance,
  deps: { authenticator: Authenticator; sessions: SessionService; quotas: QuotaService },
  options: { cookies: boolean } = { cookies: true },
): void {
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const mode = config.auth ?? 'required';
    let principal: Principal | undefined;
    let refusal: unknown;
    if (mode !== 'none') {
      let bearer: string | undefined;
      try {
        bearer = bearerToken(request);
        const sessionCookie = options.cookies ? request.cookies[SESSION_COOKIE] : undefined;
        principal = await deps.authenticator.authenticate({ bearer, sessionCookie });
      } catch (err) {
        // A stale cookie must not block a route that works anonymously (e.g. logout).
        if (!(mode === 'optional' && bearer === undefined && err instanceof Unauthorized)) refusal = err;
      }
      if (!principal && !refusal && mode === 'required') refusal = new Unauthorized();
      request.principal = principal ?? null;
    }
    // Refused callers are counted too (against their IP), so probing for credentials is limited.
    if (config.quota !== false) {
      const user = principal?.user;
      const state = await deps.quotas.take(user ? { userId: user.id, tier: user.tier } : { ip: request.ip });
      setRateLimitHeaders(reply, state);
    }
    if (refusal) throw refusal;
    // Only a cookie is renewed: a client sending the token as a bearer keeps it where it likes.
    if (principal?.via === 'session' && principal.session.renewedToken && request.headers.authorization === undefined) {
      setSessionCookie(reply, principal.session.renewedToken, deps.sessions.lifetimeMs);
    }
  });
}
