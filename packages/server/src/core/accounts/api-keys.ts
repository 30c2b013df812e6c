import { hash, randomBytes } from 'node:crypto';
import { Conflict, Forbidden, Invalid, NotFound, Unauthorized } from '../errors.js';
import { newId } from '../ids.js';
import { KnownKeys } from './known-keys.js';
import type { AccountChanges, ApiKey, ApiKeyRepository, User } from './model.js';
import { KEY_NAME, MAX_ACTIVE_KEYS_PER_USER } from './rules.js';

export const API_KEY_PREFIX = 'pk_';
/** How much of the secret a key list shows (`pk_` and 8 more characters). */
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** lastUsedAt is a hint, not an audit log: write it at most this often per key. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * API keys are 256-bit random secrets; a fast hash is enough to store them (nothing to brute-force).
 * Hashed on every request: the one-shot `hash` skips the streaming Hash object `createHash` builds.
 */
export function hashApiKey(secret: string): string {
  return hash('sha256', secret);
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

export class ApiKeyService {
  private readonly known: KnownKeys;

  constructor(
    private readonly keys: ApiKeyRepository,
    changes: AccountChanges,
    private readonly onBackgroundError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.known = new KnownKeys(changes);
  }

  /** Creates a key; the returned `secret` exists only in this answer. */
  async create(user: User, input: { name: string; expiresAt?: number | null }): Promise<ApiKey & { secret: string }> {
    const name = input.name.trim();
    if (name.length < KEY_NAME.minLength || name.length > KEY_NAME.maxLength) {
      throw new Invalid(`name must be ${KEY_NAME.minLength}-${KEY_NAME.maxLength} characters`, 'name');
    }
    const now = this.now();
    if (input.expiresAt != null && input.expiresAt <= now) {
      throw new Invalid('expiresAt must be in the future (epoch milliseconds)', 'expiresAt');
    }
    if ((await this.keys.countActive(user.id, now)) >= MAX_ACTIVE_KEYS_PER_USER) {
      throw new Conflict(`A user can hold at most ${MAX_ACTIVE_KEYS_PER_USER} active keys; revoke one first`);
    }
    const secret = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const key: ApiKey = {
      id: newId(),
      userId: user.id,
      name,
      prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
      keyHash: hashApiKey(secret),
      lastUsedAt: null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      createdAt: now,
    };
    await this.keys.insert(key);
    return { ...key, secret };
  }

  list(user: User): Promise<ApiKey[]> {
    return this.keys.listByUser(user.id);
  }

  /** Revokes one of the user's keys; someone else's key is indistinguishable from a missing one. */
  async revoke(user: User | 'operator', id: string): Promise<void> {
    const revoked = await this.keys.revoke(id, user === 'operator' ? undefined : user.id, this.now());
    if (!revoked) throw new NotFound('API key');
  }

  /** The user a key belongs to, refusing revoked and expired keys and disabled accounts at once. */
  async authenticate(secret: string): Promise<{ user: User; key: ApiKey }> {
    const keyHash = hashApiKey(secret);
    const found =
      this.known.get(keyHash) ?? (await this.known.load(keyHash, (hash) => this.keys.findByHashWithUser(hash)));
    if (!found) throw new Unauthorized('Invalid API key');
    const { key, user } = found;
    const now = this.now();
    if (key.revokedAt !== null) throw new Unauthorized('API key has been revoked');
    if (key.expiresAt !== null && key.expiresAt <= now) throw new Unauthorized('API key has expired');
    if (user.disabled) throw new Forbidden('This account is disabled');
    if (key.lastUsedAt === null || now - key.lastUsedAt > TOUCH_INTERVAL_MS) {
      // Also in the key as kept, so that the next requests do not stamp it again.
      key.lastUsedAt = now;
      this.keys.touch(key.id, now).catch(this.onBackgroundError);
    }
    return found;
  }
}
