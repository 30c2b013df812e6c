import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { registerAuthHooks } from '../auth.js';
import { accountRoutes } from './routes/accounts.js';
import { adminRoutes } from './routes/admin.js';
import { botApiRoutes } from './routes/bot-api.js';
import { botRoutes } from './routes/bots.js';
import { channelRoutes } from './routes/channels.js';
import { conversationRoutes } from './routes/conversations.js';
import { fileRoutes } from './routes/files.js';
import { groupRoutes } from './routes/groups.js';
import { messageRoutes } from './routes/messages.js';
import { modelRoutes } from './routes/models.js';
import { searchRoutes } from './routes/search.js';
import { keyRoutes } from './routes/keys.js';
import { profileRoutes } from './routes/profiles.js';
import { serviceRoutes } from './routes/service.js';
import { triggerRoutes } from './routes/triggers.js';
import { webhookRoutes } from './routes/webhooks.js';
import { ErrorBody } from './schemas.js';
import type { NativeContext } from './types.js';

export const NATIVE_PREFIX = '/api/v1';

/** The native API: Parley's own surface, used by the web client and the SDKs. */
export async function nativeApi(parent: FastifyInstance, context: NativeContext): Promise<void> {
  await parent.register(
    async (scope) => {
      const app = scope.withTypeProvider<TypeBoxTypeProvider>();
      app.addHook('onRoute', documentRoute);
      registerAuthHooks(app, context.core);
      for (const routes of [
        serviceRoutes,
        accountRoutes,
        keyRoutes,
        adminRoutes,
        channelRoutes,
        modelRoutes,
        botRoutes,
        fileRoutes,
        conversationRoutes,
        messageRoutes,
        searchRoutes,
        groupRoutes,
        botApiRoutes,
        webhookRoutes,
        profileRoutes,
        triggerRoutes,
      ]) {
        routes(app, context);
      }
    },
    { prefix: NATIVE_PREFIX },
  );
}

/** Every native route answers errors in one shape, and public routes need no credentials: say so in OpenAPI. */
function documentRoute(route: RouteOptions): void {
  route.schema ??= {};
  route.schema.response = { '4xx': ErrorBody, '5xx': ErrorBody, ...(route.schema.response as object) };
  if (route.config?.auth === 'none') (route.schema as { security?: unknown[] }).security ??= [];
}
