import { Type } from '@sinclair/typebox';
import { Nullable, StringEnum } from '../../lib/schema.js';
import { ROLES } from '../../core/accounts/model.js';
import { AVATAR_URL, DISPLAY_NAME, KEY_NAME, PASSWORD, USERNAME } from '../../core/accounts/rules.js';
import { TIER_NAMES } from '../../config/schema.js';

/** Epoch milliseconds, as every time in the native API (bounded by what a Date can hold). */
export const Millis = (options: { description?: string } = {}) =>
  Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000, ...options });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_ERROR, NOT_FOUND' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { title: 'Error' },
);

export const Username = Type.String({
  minLength: USERNAME.minLength,
  maxLength: USERNAME.maxLength,
  pattern: USERNAME.pattern,
  description: `${USERNAME.minLength}-${USERNAME.maxLength} letters, digits, "_", "." or "-", starting with a letter or digit; case-insensitive (stored in lower case)`,
});

export const Password = Type.String({
  minLength: PASSWORD.minLength,
  maxLength: PASSWORD.maxLength,
  description: `${PASSWORD.minLength}-${PASSWORD.maxLength} characters, not only whitespace`,
});

export const Role = StringEnum(ROLES);
export const Tier = StringEnum(TIER_NAMES);

export const UserBody = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  avatarUrl: Nullable(Type.String()),
  isPublic: Type.Boolean(),
  role: Role,
  tier: Tier,
  xp: Type.Integer(),
  level: Type.Integer(),
  disabled: Type.Boolean(),
  createdAt: Millis(),
  updatedAt: Millis(),
});

export const UserEnvelope = Type.Object({ user: UserBody });

export const DisplayName = Type.String({ minLength: 1, maxLength: DISPLAY_NAME.maxLength });
export const AvatarUrl = Nullable(Type.String({ maxLength: AVATAR_URL.maxLength, pattern: AVATAR_URL.pattern }));

export const ApiKeyBody = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  lastUsedAt: Nullable(Millis()),
  expiresAt: Nullable(Millis()),
  revokedAt: Nullable(Millis()),
  createdAt: Millis(),
});

export const KeyName = Type.String({ minLength: KEY_NAME.minLength, maxLength: KEY_NAME.maxLength });

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
