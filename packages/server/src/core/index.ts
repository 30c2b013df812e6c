import type { Config } from '../config/schema.js';
import { ApiKeyService } from './accounts/api-keys.js';
import { Authenticator } from './accounts/authenticate.js';
import type { ApiKeyRepository, UserRepository } from './accounts/model.js';
import type { PasswordHasher, SessionTokens } from './accounts/ports.js';
import { SessionService } from './accounts/sessions.js';
import { UserService } from './accounts/users.js';
import { QuotaService } from './quotas.js';
import type { SharedState } from './shared-state.js';

export interface CorePorts {
  users: UserRepository;
  apiKeys: ApiKeyRepository;
  passwords: PasswordHasher;
  sessionTokens: SessionTokens;
  shared: SharedState;
  /** Where failures of work done off the request path are reported. */
  onBackgroundError: (err: unknown) => void;
}

/** The domain services every surface calls. */
export interface Core {
  users: UserService;
  sessions: SessionService;
  apiKeys: ApiKeyService;
  authenticator: Authenticator;
  quotas: QuotaService;
}

export function createCore(config: Config, ports: CorePorts): Core {
  const users = new UserService(ports.users, ports.passwords, {
    allowRegistration: config.allowRegistration,
    defaultTier: 'free',
  });
  const sessions = new SessionService(
    ports.users,
    ports.passwords,
    ports.sessionTokens,
    ports.shared.kv,
    ports.shared.limiter,
    {
      lifetimeMs: config.session.lifetimeSeconds * 1000,
      loginThrottle: {
        perUsername: config.loginThrottle.perUsername,
        perIp: config.loginThrottle.perIp,
        windowMs: config.loginThrottle.windowSeconds * 1000,
      },
    },
  );
  const apiKeys = new ApiKeyService(ports.apiKeys, ports.onBackgroundError);
  return {
    users,
    sessions,
    apiKeys,
    authenticator: new Authenticator(apiKeys, sessions),
    quotas: new QuotaService(ports.shared.limiter, config),
  };
}
