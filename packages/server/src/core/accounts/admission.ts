import { Unauthorized } from '../errors.js';
import type { QuotaService, SurfaceLimit } from '../quotas.js';
import type { LimitState } from '../shared-state.js';
import type { Authenticator, Credentials, Principal } from './authenticate.js';

/** `required`: no entry without valid credentials; `optional`: anonymous allowed; `none`: credentials not looked at. */
export type AuthMode = 'required' | 'optional' | 'none';

export interface AdmissionRequest {
  credentials: Credentials;
  /** The caller sent credentials in a form the surface does not accept. */
  malformed?: boolean;
  ip: string;
  auth: AuthMode;
  /** Whether the request counts against the caller's quota. */
  quota: boolean;
  /** The surface's own limit, counted with the quota. */
  surfaceLimit?: SurfaceLimit;
}

export interface Admission {
  principal?: Principal;
  /** The quota state after this request, when it was counted. */
  limit?: LimitState;
  /** A renewed session token for the cookie the session came in (sliding sessions). */
  renewedCookie?: string;
}

/**
 * Who may make a request, for every surface: the principal from the credentials, then one request
 * counted against the user's tier — or the caller's IP when anonymous or refused, so that probing
 * for credentials is limited too.
 */
export class Gatekeeper {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly quotas: QuotaService,
  ) {}

  async admit(request: AdmissionRequest): Promise<Admission> {
    const { auth, credentials } = request;
    let principal: Principal | undefined;
    let refusal: unknown;
    if (auth !== 'none') {
      try {
        if (request.malformed) throw new Unauthorized('Authorization header must be "Bearer <token>"');
        principal = await this.authenticator.authenticate(credentials);
      } catch (err) {
        // A stale cookie must not block a route that works anonymously (e.g. logout).
        const staleCookie = auth === 'optional' && credentials.bearer === undefined && !request.malformed;
        if (!(staleCookie && err instanceof Unauthorized)) refusal = err;
      }
      if (!principal && !refusal && auth === 'required') refusal = new Unauthorized();
    }
    const user = principal?.user;
    const limit = request.quota
      ? await this.quotas.take(user ? { userId: user.id, tier: user.tier } : { ip: request.ip }, request.surfaceLimit)
      : undefined;
    if (refusal) throw refusal;
    // Only a cookie is renewed: a client sending the token as a bearer keeps it where it likes.
    const renewed =
      principal?.via === 'session' && credentials.bearer === undefined ? principal.session.renewedToken : undefined;
    return { principal, limit, renewedCookie: renewed };
  }
}
