import { Type } from '@sinclair/typebox';
import { Nullable } from '../../../lib/schema.js';
import { principalOf } from '../../auth.js';
import { AvatarUrl, DisplayName, Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

export const ProfileBody = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  avatarUrl: Nullable(Type.String()),
  isPublic: Type.Boolean(),
  xp: Type.Integer(),
  level: Type.Integer(),
  createdAt: Millis(),
  triggers: Type.Array(Type.String(), {
    description: "Names of the user's triggers (private ones for the owner only)",
  }),
});

const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });

export function profileRoutes(app: NativeApp, { core }: NativeContext): void {
  app.get(
    '/profiles/:username',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['profiles'],
        summary: "A user's profile: XP, level and triggers. A private profile is found by its owner and admins only",
        params: UsernameParams,
        response: { 200: ProfileBody },
      },
    },
    async (request) => core.profiles.get(request.principal?.user ?? null, request.params.username),
  );

  app.patch(
    '/profiles/:username',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Change your profile (admins: anyone’s)',
        params: UsernameParams,
        body: Type.Object(
          {
            displayName: Type.Optional(DisplayName),
            avatarUrl: Type.Optional(AvatarUrl),
            isPublic: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: ProfileBody },
      },
    },
    async (request) => core.profiles.update(principalOf(request).user, request.params.username, request.body),
  );
}
