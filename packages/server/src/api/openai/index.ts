import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ModelNotFound } from '../../core/errors.js';
import { callerOf, principalOf, registerAuthHooks } from '../auth.js';
import { toApiError } from '../errors.js';
import type { Surface } from '../surfaces.js';
import { EVENT_STREAM_HEADERS, eventStream } from '../sse.js';
import { collectCompletion, endingWithError, sseChunks, toChatRequest } from './chat.js';
import { openAiError } from './errors.js';
import { ChatCompletionBody, EmbeddingBody } from './schemas.js';
import { abortOnDisconnect } from '../client-gone.js';

/** Chat requests may carry images inline (data URLs). */
const CHAT_BODY_LIMIT = 25 * 1024 * 1024;

/** The OpenAI API (chat completions, models, embeddings) over Parley's users, keys, quotas and routing. */
export const openAiSurface: Surface = {
  name: 'openai',
  errorBody: openAiError,
  routes(app, { core }) {
    registerAuthHooks(app, core, { cookies: false });

    app.post(
      '/chat/completions',
      {
        bodyLimit: CHAT_BODY_LIMIT,
        schema: { tags: ['openai'], summary: 'OpenAI chat completions', body: ChatCompletionBody },
      },
      async (request, reply) => {
        const body = request.body;
        const context = callContext(request, reply);
        const chat = toChatRequest(body);
        const signal = abortOnDisconnect(reply);
        if (body.stream) {
          const includeUsage = body.stream_options?.include_usage === true;
          const answer = await core.completions.relay(context, chat, signal, { model: body.model, includeUsage });
          reply.header('x-parley-overhead-ms', answer.overheadMs().toFixed(2));
          reply.headers(EVENT_STREAM_HEADERS);
          const events = 'relayed' in answer ? answer : sseChunks(answer, { ...meta(body.model), includeUsage });
          return reply.send(eventStream(endingWithError(events, errorEvent), reply.raw));
        }
        const completion = await core.completions.start(context, chat, signal);
        const answer = await collectCompletion(completion, meta(body.model));
        reply.header('x-parley-overhead-ms', completion.overheadMs().toFixed(2));
        return answer;
      },
    );

    app.get('/models', { schema: { tags: ['openai'], summary: 'Models you may use' } }, async (request) => ({
      object: 'list',
      data: (await core.completions.models(principalOf(request).user)).map(modelObject),
    }));

    // Model ids may contain slashes (`org/model`).
    app.get('/models/*', { schema: { tags: ['openai'], summary: 'One model' } }, async (request) => {
      const id = (request.params as { '*': string })['*'];
      if (!id) throw new ModelNotFound(id);
      return modelObject(await core.completions.modelFor(principalOf(request).user, id));
    });

    app.post(
      '/embeddings',
      { schema: { tags: ['openai'], summary: 'OpenAI embeddings', body: EmbeddingBody } },
      async (request, reply) => {
        const body = request.body;
        const input = typeof body.input === 'string' ? [body.input] : body.input;
        const result = await core.completions.embed(
          callContext(request, reply),
          { model: body.model, input, dimensions: body.dimensions },
          abortOnDisconnect(reply),
        );
        const base64 = body.encoding_format === 'base64';
        reply.header('x-parley-overhead-ms', '0');
        return {
          object: 'list',
          data: result.embeddings.map((vector, index) => ({
            object: 'embedding',
            index,
            embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
          })),
          model: body.model,
          usage: { prompt_tokens: result.promptTokens ?? 0, total_tokens: result.promptTokens ?? 0 },
        };
      },
    );
  },
};

/**
 * What Parley's own chunks show. The id only has to be unique: a UUID from Node's pooled entropy
 * costs a fraction of a ULID, whose randomness is drawn a character at a time.
 */
function meta(model: string) {
  return { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model };
}

function errorEvent(err: unknown): string {
  return `data: ${JSON.stringify(openAiError(toApiError(err)))}\n\n`;
}

function callContext(request: FastifyRequest, reply: FastifyReply) {
  return { ...callerOf(request, 'openai'), elapsedMs: () => reply.elapsedTime };
}

function modelObject(model: { id: string; provider: string }) {
  return { id: model.id, object: 'model', created: 0, owned_by: model.provider };
}
