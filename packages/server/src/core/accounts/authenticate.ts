import type { ApiKeyService } from './api-keys.js';
import { looksLikeApiKey } from './api-keys.js';
import type { ApiKey, User } from './model.js';
import type { Session, SessionService } from './sessions.js';

/** Who is making a request, and with which credential. */
export type Principal = { user: User; via: 'session'; session: Session } | { user: User; via: 'key'; key: ApiKey };

export interface Credentials {
  /** The token of an `Authorization: Bearer` header (an API key or a session token). */
  bearer?: string;
  /** The session cookie's value. */
  sessionCookie?: string;
}

/**
 * Resolves credentials to a principal. A bearer token wins over the cookie, so a program holding
 * a key acts as the key's owner even from a browser that is logged in as someone else.
 */
export class Authenticator {
  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly sessions: SessionService,
  ) {}

  async authenticate(credentials: Credentials): Promise<Principal | undefined> {
    const { bearer, sessionCookie } = credentials;
    if (bearer !== undefined) {
      if (looksLikeApiKey(bearer)) {
        const { user, key } = await this.apiKeys.authenticate(bearer);
        return { user, via: 'key', key };
      }
      const session = await this.sessions.authenticate(bearer);
      return { user: session.user, via: 'session', session };
    }
    if (sessionCookie !== undefined) {
      const session = await this.sessions.authenticate(sessionCookie);
      return { user: session.user, via: 'session', session };
    }
    return undefined;
  }
}
