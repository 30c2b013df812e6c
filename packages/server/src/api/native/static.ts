import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { kindOf } from '../../core/files/detect.js';
import type { Core } from '../../core/index.js';
import { BOTYARD_SESSION_COOKIE, SESSION_COOKIE, principalOf, registerAuthHooks } from '../auth.js';
import { ErrorBody } from './schemas.js';

/**
 * File bytes under `/static/<kind>/<id>.<ext>`, to their owner and to readers of a conversation
 * that references them; 404 to anyone else, exactly as for a file that does not exist.
 */
export async function staticFiles(parent: FastifyInstance, core: Core): Promise<void> {
  await parent.register(async (scope) => {
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    // Files attached on the botyard surface are shown by a browser signed in there, with its cookie.
    registerAuthHooks(app, core, { cookies: [SESSION_COOKIE, BOTYARD_SESSION_COOKIE] });
    app.get(
      '/static/*',
      {
        schema: {
          tags: ['files'],
          summary: "A file's bytes (the `path` of its metadata)",
          description:
            'Images, audio and video are served inline, anything else as an attachment; private to the caller.',
          params: Type.Object({ '*': Type.String() }),
          response: {
            200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The bytes' }),
            '4xx': ErrorBody,
            '5xx': ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const { file, stream } = await core.files.open(principalOf(request).user, `static/${request.params['*']}`);
        const inline = kindOf(file.mimeType) !== 'files';
        return reply
          .type(file.mimeType)
          .header('content-length', file.size)
          .header('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', file.name))
          .header('cache-control', 'private')
          .send(stream);
      },
    );
  });
}

/** RFC 6266: an ASCII fallback name for old clients, and the exact name in UTF-8 (RFC 8187). */
function contentDisposition(disposition: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
