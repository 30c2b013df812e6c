import { randomBytes } from 'node:crypto';
import { Forbidden, Invalid, NotFound } from '../errors.js';
import { outboxEvent } from '../events.js';
import { newId } from '../ids.js';
import type { NewUser, Page, Role, Tier, User, UserPatch, UserRepository } from './model.js';
import type { PasswordGuard } from './password-guard.js';
import type { PasswordHasher } from './ports.js';
import {
  AVATAR_URL,
  DISPLAY_NAME,
  GUEST_USERNAME_PREFIX,
  NO_PASSWORD,
  USERS_PAGE,
  checkPassword,
  checkUsername,
  normaliseUsername,
} from './rules.js';

export interface ProfileChanges {
  displayName?: string;
  avatarUrl?: string | null;
  isPublic?: boolean;
  password?: string;
  currentPassword?: string;
}

export interface AdminChanges {
  role?: Role;
  tier?: Tier;
  disabled?: boolean;
}

export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly passwords: PasswordHasher,
    private readonly guard: PasswordGuard,
    private readonly options: { allowRegistration: boolean; defaultTier: Tier },
    private readonly now: () => number = Date.now,
  ) {}

  /** Self-service sign-up; the very first user of an installation becomes admin. */
  async register(input: { username: string; password: string }): Promise<User> {
    if (!this.options.allowRegistration) throw new Forbidden('Registration is closed on this server');
    return this.create({ ...input, role: 'first-user-admin' });
  }

  /**
   * Creates a user (used by registration and the CLI). Without a password one is generated and
   * returned, for the operator to hand over once.
   */
  async create(input: {
    username: string;
    password?: string;
    role?: Role | 'first-user-admin';
    tier?: Tier;
  }): Promise<User & { generatedPassword?: string }> {
    const username = checkUsername(input.username);
    const generatedPassword = input.password === undefined ? randomBytes(15).toString('base64url') : undefined;
    const password = input.password ?? generatedPassword!;
    checkPassword(password);
    const user = await this.users.insert(
      this.newUser({
        id: newId(),
        username,
        passwordHash: await this.passwords.hash(password),
        displayName: username,
        role: input.role ?? 'first-user-admin',
        tier: input.tier,
      }),
    );
    return generatedPassword ? { ...user, generatedPassword } : user;
  }

  /**
   * A guest: a user known only by a display name (signing in on a surface whose clients ask for a
   * nickname). The username is generated and the account has no password, so it can never log in
   * with one; it lives as long as its session is renewed. Guests are never the first admin.
   */
  async createGuest(displayName: string): Promise<User> {
    // A guest is an account like any other: a server closed to sign-ups is closed to guests too.
    if (!this.options.allowRegistration) throw new Forbidden('Registration is closed on this server');
    const name = displayName.trim();
    if (!name || name.length > DISPLAY_NAME.maxLength) {
      throw new Invalid(`displayName must be 1-${DISPLAY_NAME.maxLength} characters`, 'displayName');
    }
    const id = newId();
    return this.users.insert(
      this.newUser({
        id,
        username: `${GUEST_USERNAME_PREFIX}${id.toLowerCase()}`,
        passwordHash: NO_PASSWORD,
        displayName: name,
        role: 'user',
      }),
    );
  }

  /** A new account as it starts: what differs between kinds of account is given. */
  private newUser(
    fields: Pick<NewUser, 'id' | 'username' | 'passwordHash' | 'displayName' | 'role'> & { tier?: Tier },
  ): NewUser {
    const now = this.now();
    return {
      avatarUrl: null,
      isPublic: false,
      xp: 0,
      level: 1,
      disabled: false,
      sessionsValidAfter: 0,
      createdAt: now,
      updatedAt: now,
      ...fields,
      tier: fields.tier ?? this.options.defaultTier,
    };
  }

  async get(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFound('User');
    return user;
  }

  async getByUsername(username: string): Promise<User> {
    const user = await this.users.findByUsername(normaliseUsername(username));
    if (!user) throw new NotFound('User');
    return user;
  }

  /** A user's own profile changes. A new password needs the current one and ends other sessions. */
  async updateProfile(user: User, changes: ProfileChanges, ip: string): Promise<User> {
    const now = this.now();
    const patch: UserPatch = { updatedAt: now };
    if (changes.displayName !== undefined) {
      const displayName = changes.displayName.trim();
      if (!displayName || displayName.length > DISPLAY_NAME.maxLength) {
        throw new Invalid(`displayName must be 1-${DISPLAY_NAME.maxLength} characters`, 'displayName');
      }
      patch.displayName = displayName;
    }
    if (changes.avatarUrl !== undefined) {
      if (changes.avatarUrl !== null && !isHttpUrl(changes.avatarUrl)) {
        throw new Invalid('avatarUrl must be an http(s) URL or null', 'avatarUrl');
      }
      patch.avatarUrl = changes.avatarUrl;
    }
    if (changes.isPublic !== undefined) patch.isPublic = changes.isPublic;
    if (changes.password !== undefined) {
      checkPassword(changes.password);
      if (changes.currentPassword === undefined) {
        throw new Invalid('currentPassword is required to change the password', 'currentPassword');
      }
      if (!(await this.guard.verify(user.username, user, changes.currentPassword, ip))) {
        throw new Invalid('currentPassword is incorrect', 'currentPassword');
      }
      patch.passwordHash = await this.passwords.hash(changes.password);
      patch.sessionsValidAfter = now;
    }
    const profileChanged =
      changes.displayName !== undefined || changes.avatarUrl !== undefined || changes.isPublic !== undefined;
    const updated = await this.users.update(
      user.id,
      patch,
      profileChanged ? { outbox: (u) => [outboxEvent('profile.update', [u.id], { profile: publicProfile(u) })] } : {},
    );
    if (!updated) throw new NotFound('User');
    return updated;
  }

  async list(actor: User, page: { limit?: number; cursor?: string }): Promise<Page<User>> {
    requireAdmin(actor);
    const limit = Math.min(Math.max(page.limit ?? USERS_PAGE.defaultLimit, 1), USERS_PAGE.maxLimit);
    const items = await this.users.list({ limit: limit + 1, after: page.cursor });
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? items[items.length - 1]!.id : null };
  }

  /** Role, tier and disabled flag, set by an admin (or the CLI, which acts with full rights). */
  async adminUpdate(actor: User | 'operator', id: string, changes: AdminChanges): Promise<User> {
    if (actor !== 'operator') requireAdmin(actor);
    const target = await this.get(id);
    const losesAdmin =
      target.role === 'admin' && !target.disabled && (changes.role === 'user' || changes.disabled === true);
    const patch: UserPatch = {
      role: changes.role,
      tier: changes.tier,
      disabled: changes.disabled,
      updatedAt: this.now(),
    };
    const updated = await this.users.update(id, patch, { keepAnActiveAdmin: losesAdmin });
    if (!updated) throw new NotFound('User');
    return updated;
  }
}

/** The public face of a user: what `profile.update` webhooks carry (never credentials or account state). */
export function publicProfile(user: User) {
  const { id, username, displayName, avatarUrl, isPublic, xp, level, updatedAt } = user;
  return { id, username, displayName, avatarUrl, isPublic, xp, level, updatedAt };
}

export function requireAdmin(user: User): void {
  if (user.role !== 'admin') throw new Forbidden('Admin role required');
}

function isHttpUrl(value: string): boolean {
  if (value.length > AVATAR_URL.maxLength) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
