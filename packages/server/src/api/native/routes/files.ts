import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { FILE_NAME_MAX_BYTES } from '../../../core/files/rules.js';
import { principalOf } from '../../auth.js';
import { acceptUploads, storeUploads } from '../../uploads.js';
import { IdParams, Millis } from '../schemas.js';
import type { NativeApp, NativeContext } from '../types.js';

const FileBody = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'The name it was uploaded under; for display only' }),
  size: Type.Integer({ minimum: 1, description: 'In bytes' }),
  mimeType: Type.String({ description: 'Detected from the content, not taken from the client' }),
  path: Type.String({ description: 'Where the bytes are served: GET /<path>, e.g. /static/images/<id>.png' }),
  createdAt: Millis(),
});

export function fileRoutes(app: NativeApp, { core, config }: NativeContext): void {
  const { files } = core;
  const limits = config.files;

  app.get(
    '/files/:id',
    {
      schema: {
        tags: ['files'],
        summary: 'A file you uploaded, or one attached in a conversation you can read',
        params: IdParams,
        response: { 200: FileBody },
      },
    },
    async (request) => files.get(principalOf(request).user, request.params.id),
  );

  // Multipart is accepted by this route only, and nothing else is: other bodies get 415.
  void app.register(async (scope) => {
    await acceptUploads(scope, limits);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/files',
      {
        schema: {
          tags: ['files'],
          summary: 'Upload files (multipart/form-data, one or more parts named "file"); all are stored or none',
          description:
            `Each file's type is detected from its content; a declared type that contradicts it is refused. ` +
            `Limits: images ${limits.imageMaxBytes} bytes, audio ${limits.audioMaxBytes} bytes, ` +
            `other files ${limits.otherMaxBytes} bytes, ${limits.maxFilesPerUpload} files per upload, ` +
            `names of at most ${FILE_NAME_MAX_BYTES} bytes that are not paths. Too large: 413.`,
          response: { 201: Type.Array(FileBody) },
        },
      },
      async (request, reply) => {
        return reply.code(201).send(await storeUploads(files, principalOf(request).user, request));
      },
    );
  });
}
