import type { FastifyInstance } from 'fastify';
import { registerAuthHooks } from '../../auth.js';
import type { Surface } from '../../surfaces.js';
import { chatRoutes } from './chat.js';
import { conversationRoutes } from './conversations.js';
import { zeebeeError } from './errors.js';
import { feedbackRoutes } from './feedback.js';
import { searchRoutes } from './search.js';
import { serviceRoutes } from './service.js';
import { zeebeeSpeechRoutes } from './speech.js';
import { templateRoutes } from './templates.js';
import { zeebeeVoiceRoutes } from './voice.js';

/**
 * The zeebee ("AI Chat SDK Platform") API and what its published SDK calls: chat, conversations,
 * templates (bots), feedback, search and speech over the caller's data, and a voice WebSocket at a
 * path of its own. The key comes as `X-API-Key` or as a bearer token; `user_id` names one of the
 * caller's own end users, never another account.
 */
export const zeebeeSurface: Surface = {
  name: 'zeebee',
  errorBody: zeebeeError,
  routes(app, context) {
    acceptEmptyJsonBodies(app);
    registerAuthHooks(app, context.core, { cookies: true, keyHeader: 'x-api-key' });
    serviceRoutes(app, context);
    chatRoutes(app, context);
    conversationRoutes(app, context);
    templateRoutes(app, context);
    feedbackRoutes(app, context);
    searchRoutes(app, context);
    zeebeeSpeechRoutes(app, context);
  },
  unprefixedRoutes: zeebeeVoiceRoutes,
};

/**
 * The SDK sends `Content-Type: application/json` with no body at all on DELETE (and a few POSTs);
 * in this scope that is a request without a body, not malformed JSON.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // Asked for as a string, though the parser's type allows a buffer too.
    const text = body.toString();
    if (text === '') done(null, undefined);
    else parseJson(request, text, done);
  });
}
