import { Invalid } from '../errors.js';

/**
 * Account rules, in one place for every surface and the CLI. API schemas reuse these numbers, so
 * the OpenAPI document states exactly what the core enforces.
 */
export const USERNAME = {
  minLength: 3,
  maxLength: 32,
  /** Letters, digits, `_`, `.`, `-`; starting with a letter or digit. Case-insensitive. */
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
} as const;

export const PASSWORD = { minLength: 8, maxLength: 256 } as const;
/** The password hash of an account without a password (a guest): no password ever matches it. */
export const NO_PASSWORD = '';
/** Guests' usernames: this prefix and their id in lower case (32 characters in all). */
export const GUEST_USERNAME_PREFIX = 'guest-';
export const DISPLAY_NAME = { maxLength: 64 } as const;
export const AVATAR_URL = { maxLength: 2048, pattern: '^https?://' } as const;
export const KEY_NAME = { minLength: 1, maxLength: 64 } as const;
export const MAX_ACTIVE_KEYS_PER_USER = 50;
export const USERS_PAGE = { defaultLimit: 50, maxLimit: 100 } as const;

const usernamePattern = new RegExp(USERNAME.pattern);

/** Usernames are unique regardless of case and stored in lower case. */
export function normaliseUsername(username: string): string {
  return username.trim().toLowerCase();
}

export function checkUsername(username: string): string {
  const name = normaliseUsername(username);
  if (name.length < USERNAME.minLength || name.length > USERNAME.maxLength || !usernamePattern.test(name)) {
    throw new Invalid(
      `username must be ${USERNAME.minLength}-${USERNAME.maxLength} letters, digits, "_", "." or "-", starting with a letter or digit`,
      'username',
    );
  }
  return name;
}

export function hasPassword(user: { passwordHash: string }): boolean {
  return user.passwordHash !== NO_PASSWORD;
}

export function checkPassword(password: string, field = 'password'): void {
  if (password.length < PASSWORD.minLength || password.length > PASSWORD.maxLength) {
    throw new Invalid(`${field} must be ${PASSWORD.minLength}-${PASSWORD.maxLength} characters`, field);
  }
  if (password.trim().length === 0) throw new Invalid(`${field} must not be only whitespace`, field);
}
