import { Type } from '@sinclair/typebox';
import type { NativeApp, NativeContext } from '../types.js';

export function serviceRoutes(app: NativeApp, { config, version }: NativeContext): void {
  const { service } = config;

  app.get(
    '/service',
    {
      config: { auth: 'none', quota: false },
      schema: {
        tags: ['service'],
        summary: 'What this server is: name, description and social links',
        response: {
          200: Type.Object({
            name: Type.String(),
            description: Type.String(),
            socials: Type.Record(Type.String(), Type.String()),
          }),
        },
      },
    },
    async () => service,
  );

  app.get(
    '/health',
    {
      config: { auth: 'none', quota: false },
      schema: {
        tags: ['service'],
        summary: 'Liveness of the API',
        response: { 200: Type.Object({ status: Type.Literal('ok'), service: Type.String(), version: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' as const, service: service.name, version }),
  );
}
