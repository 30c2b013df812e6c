import { Type } from '@sinclair/typebox';
import type { NativeApp, NativeContext } from '../types.js';
import { clearSessionCookie, principalOf, setSessionCookie } from '../../auth.js';
import { AvatarUrl, DisplayName, Password, UserEnvelope, Username } from '../schemas.js';

const Credentials = Type.Object({ username: Username, password: Password }, { additionalProperties: false });

export function accountRoutes(app: NativeApp, { core }: NativeContext): void {
  const { users, sessions } = core;

  app.post(
    '/auth/register',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['accounts'],
        summary: 'Create an account (the first account of a server becomes admin)',
        body: Credentials,
        response: { 201: UserEnvelope },
      },
    },
    async (request, reply) => {
      const user = await users.register(request.body);
      return reply.code(201).send({ user });
    },
  );

  app.post(
    '/auth/login',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['accounts'],
        summary: 'Log in; sets the httpOnly session cookie',
        description: 'Failed attempts are throttled per username and per IP address.',
        body: Type.Object(
          { username: Type.String({ maxLength: 256 }), password: Type.String({ maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 200: UserEnvelope },
      },
    },
    async (request, reply) => {
      const { user, token } = await sessions.login({ ...request.body, ip: request.ip });
      setSessionCookie(reply, token, sessions.lifetimeMs);
      return { user };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { auth: 'optional' },
      schema: { tags: ['accounts'], summary: 'End the current session', response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal?.via === 'session') await sessions.logout(principal.session.claims);
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    { schema: { tags: ['accounts'], summary: 'The current user', response: { 200: UserEnvelope } } },
    // Read afresh: the account a key was authenticated with is kept between requests, and its XP
    // changes with every reply.
    async (request) => ({ user: await users.get(principalOf(request).user.id) }),
  );

  app.patch(
    '/me',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Change your profile or password',
        description: 'Changing the password needs `currentPassword` and ends every other session.',
        body: Type.Object(
          {
            displayName: Type.Optional(DisplayName),
            avatarUrl: Type.Optional(AvatarUrl),
            isPublic: Type.Optional(Type.Boolean()),
            password: Type.Optional(Password),
            currentPassword: Type.Optional(Type.String({ maxLength: 256 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserEnvelope },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const user = await users.updateProfile(principal.user, request.body, request.ip);
      if (request.body.password !== undefined && principal.via === 'session') {
        setSessionCookie(reply, sessions.reissue(principal.session.claims), sessions.lifetimeMs);
      }
      return { user };
    },
  );
}
