import { Type } from '@sinclair/typebox';
import { USERS_PAGE } from '../../../core/accounts/rules.js';
import type { NativeApp, NativeContext } from '../types.js';
import { principalOf } from '../../auth.js';
import { IdParams, Role, Tier, UserBody, UserEnvelope } from '../schemas.js';

export function adminRoutes(app: NativeApp, { core }: NativeContext): void {
  const { users } = core;

  app.get(
    '/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'All users, oldest first, a page at a time',
        querystring: Type.Object(
          {
            limit: Type.Optional(
              Type.Integer({ minimum: 1, maximum: USERS_PAGE.maxLimit, default: USERS_PAGE.defaultLimit }),
            ),
            cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(UserBody), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (request) => users.list(principalOf(request).user, request.query),
  );

  app.patch(
    '/admin/users/:id',
    {
      schema: {
        tags: ['admin'],
        summary: "Change a user's role, tier or disabled flag (a disabled user is refused at once)",
        params: IdParams,
        body: Type.Object(
          { role: Type.Optional(Role), tier: Type.Optional(Tier), disabled: Type.Optional(Type.Boolean()) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserEnvelope },
      },
    },
    async (request) => ({ user: await users.adminUpdate(principalOf(request).user, request.params.id, request.body) }),
  );
}
