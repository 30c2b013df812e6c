import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { registerAuthHooks } from './auth.js';
import { accountRoutes } from './routes/accounts.js';
import { adminRoutes } from './routes/admin.js';
import { keyRoutes } from './routes/keys.js';
import { serviceRoutes } from './routes/service.js';
import type { NativeContext } from './types.js';

export const NATIVE_PREFIX = '/api/v1';

/** The native API: Parley's own surface, used by the web client and the SDKs. */
export async function nativeApi(parent: FastifyInstance, context: NativeContext): Promise<void> {
  await parent.register(
    async (scope) => {
      const app = scope.withTypeProvider<TypeBoxTypeProvider>();
      registerAuthHooks(app, context.core);
      for (const routes of [serviceRoutes, accountRoutes, keyRoutes, adminRoutes]) routes(app, context);
    },
    { prefix: NATIVE_PREFIX },
  );
}
