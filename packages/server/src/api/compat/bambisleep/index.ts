import type { FastifyRequest } from 'fastify';
import type { Core } from '../../../core/index.js';
import type { SurfaceLimit } from '../../../core/quotas.js';
import { callerOf, principalOf, registerAuthHooks, setSessionCookie } from '../../auth.js';
import type { Surface } from '../../surfaces.js';
import type { Socket } from '../../realtime/connection.js';
import { LobbySockets } from './lobby-socket.js';
import {
  ErrorBody,
  GenerateAnswer,
  LoginAnswer,
  LoginBody,
  NewTrigger,
  NewWebhook,
  ProfileBody,
  ProfileChanges,
  SessionBody,
  SessionList,
  SessionParams,
  SessionsQuery,
  TriggerBody,
  TriggerList,
  TriggersQuery,
  UsernameParams,
  WebhookBody,
  generateBody,
  type GenerateBody,
} from './schemas.js';
import { bambisleepError, profileView, sessionSummary, sessionView, triggerView, webhookView } from './shapes.js';

const tags = ['bambisleep'];
const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
/** Every message of a session, up to this many of the newest. */
const SESSION_MESSAGES = 1000;

const SESSIONS_NOTE =
  'A session is one of your own conversations with nobody else (no bot, group or end user). ' +
  '`POST /ai/generate` continues your latest session while it was active within ' +
  '`surfaces.bambisleep.sessionIdleMinutes` (30 by default); after that it begins a new one, which keeps the ' +
  'triggers active in the one before.';

/**
 * The BambiSleep.Chat API: session-cookie or API-key callers, profiles with XP and levels,
 * AI replies in the caller's current session shaped by its active triggers, triggers, session
 * histories, webhooks, and a live lobby over WebSocket. Errors are `{error: true, code, message,
 * details?}`; the document's rate limits are counted besides the tier's quota.
 */
export const bambisleepSurface: Surface = {
  name: 'bambisleep',
  errorBody: bambisleepError,

  async unprefixedRoutes(app, { core, config }) {
    const lobby = new LobbySockets(core, config.realtime, surfaceLimit(config.surfaces.bambisleep));
    await lobby.start();
    app.addHook('preClose', () => lobby.close());
    app.route({
      method: 'GET',
      url: config.surfaces.bambisleep.websocket,
      // Auth frames carry tokens: no request lines in the log for this route.
      logLevel: 'warn',
      schema: {
        tags,
        summary: 'The lobby: a live chat room of every signed-in user (WebSocket)',
        description:
          'Send `{"type":"auth","token":…}` first (a session token — the `parley_session` cookie that ' +
          '`POST /auth/login` sets — or an API key), answered by `{"type":"auth","success":true,"user":{id,username}}`. ' +
          'Then `{"type":"message","content":…}` frames reach every authenticated socket as `{"type":"message",' +
          '"username","content","timestamp"}`, the sender’s included. Errors come as `{"type":"error","code","message"}`. ' +
          'Every frame counts as a request against the rate limits. Close codes: 4401 credentials refused, 4408 not ' +
          'authenticated within `realtime.authTimeoutMs`, 4429 too many sockets for the user, 1013 too slow, 1001 shutdown.',
        response: { 426: ErrorBody },
      },
      handler: async (_request, reply) =>
        reply
          .code(426)
          .header('upgrade', 'websocket')
          .send(bambisleepError({ code: 'UPGRADE_REQUIRED', message: 'Connect with a WebSocket client' })),
      wsHandler: (socket, request) => lobby.connect(socket as Socket, request.ip),
    });
  },

  routes(app, { core, config }) {
    const options = config.surfaces.bambisleep;
    registerAuthHooks(app, core, { cookies: true, limit: surfaceLimit(options) });
    const idleMs = options.sessionIdleMinutes * 60_000;

    app.post(
      '/auth/login',
      {
        config: { auth: 'none' },
        schema: {
          tags,
          summary: 'Log in; sets the session cookie',
          description: 'Failed attempts are throttled per username and per IP address.',
          body: LoginBody,
          response: { 200: LoginAnswer, ...errors },
        },
      },
      async (request, reply) => {
        const { user, token } = await core.sessions.login({ ...request.body, ip: request.ip });
        setSessionCookie(reply, token, core.sessions.lifetimeMs);
        return {
          success: true,
          message: 'Authentication successful',
          user: { id: user.id, username: user.username },
        };
      },
    );

    app.get(
      '/profile/:username',
      {
        config: { auth: 'optional' },
        schema: {
          tags,
          summary: "A user's profile; a private one only to its owner and admins",
          params: UsernameParams,
          response: { 200: ProfileBody, ...errors },
        },
      },
      async (request) => profileView(await core.profiles.get(request.principal?.user ?? null, request.params.username)),
    );

    app.put(
      '/profile/:username',
      {
        schema: {
          tags,
          summary: 'Change your profile (admins: anyone’s); fields left out stay as they are',
          params: UsernameParams,
          body: ProfileChanges,
          response: { 200: ProfileBody, ...errors },
        },
      },
      async (request) =>
        profileView(await core.profiles.update(principalOf(request).user, request.params.username, request.body)),
    );

    app.post(
      '/ai/generate',
      {
        schema: {
          tags,
          summary: 'A reply in your current session, shaped by its active triggers',
          description:
            `${SESSIONS_NOTE} Each reply earns XP: 1 per 10 words (rounded up) and 2 per active trigger. ` +
            '`includeAudio` needs a text-to-speech provider (503 SPEECH_UNAVAILABLE without one); the audio file is ' +
            'yours, at the `audioUrl` given.',
          body: generateBody(config.chat.maxMessageChars),
          response: { 200: GenerateAnswer, ...errors },
        },
      },
      async (request) => generate(core, request, request.body, idleMs),
    );

    app.get(
      '/triggers',
      {
        schema: {
          tags,
          summary: 'Public triggers and yours, newest first',
          querystring: TriggersQuery,
          response: { 200: TriggerList, ...errors },
        },
      },
      async (request) => ({
        triggers: (await core.triggers.list(principalOf(request).user, request.query)).map(triggerView),
      }),
    );

    app.post(
      '/triggers',
      {
        schema: {
          tags,
          summary: 'Create a trigger: a named prompt snippet (private unless isPublic)',
          body: NewTrigger,
          response: { 200: TriggerBody, ...errors },
        },
      },
      async (request) => triggerView(await core.triggers.create(principalOf(request).user, request.body)),
    );

    app.get(
      '/sessions',
      {
        schema: {
          tags,
          summary: 'Your sessions, latest activity first',
          description: SESSIONS_NOTE,
          querystring: SessionsQuery,
          response: { 200: SessionList, ...errors },
        },
      },
      async (request) => {
        const { items } = await core.chatSessions.list(principalOf(request).user, request.query);
        return { sessions: items.map(sessionSummary) };
      },
    );

    app.get(
      '/sessions/:sessionId',
      {
        schema: {
          tags,
          summary: `A session with its messages, oldest first (the newest ${SESSION_MESSAGES})`,
          params: SessionParams,
          response: { 200: SessionBody, ...errors },
        },
      },
      async (request) => {
        const user = principalOf(request).user;
        const { sessionId } = request.params;
        const session = await core.conversations.get(user, sessionId);
        const { items } = await core.conversations.messages(user, session.id, {
          limit: SESSION_MESSAGES,
          settledOnly: true,
        });
        return sessionView(session, items);
      },
    );

    app.post(
      '/webhooks',
      {
        schema: {
          tags,
          summary: 'Subscribe a URL to your events, signed with your secret',
          body: NewWebhook,
          response: { 200: WebhookBody, ...errors },
        },
      },
      async (request) => webhookView(await core.webhooks.create(principalOf(request).user, request.body)),
    );
  },
};

function surfaceLimit(options: Omit<SurfaceLimit, 'surface'>): SurfaceLimit {
  const { requestsPerMinute, anonymousRequestsPerMinute } = options;
  return { surface: 'bambisleep', requestsPerMinute, anonymousRequestsPerMinute };
}

async function generate(core: Core, request: FastifyRequest, body: GenerateBody, idleMs: number) {
  const { prompt, settings = {} } = body;
  const caller = callerOf(request, 'bambisleep');
  if (settings.includeAudio) core.spokenFiles.ensureAvailable();
  const session = await core.chatSessions.current(caller.user, {
    idleMs,
    model: settings.model,
    triggers: settings.triggers,
  });
  // A session has no bot: Parley itself always replies.
  const { reply } = await core.replies.send(caller, session.id, { content: prompt });
  const ended = await core.replies.completed(reply!);
  const [audio, triggers] = await Promise.all([
    // A reply with no words has nothing to speak: it comes without audio.
    settings.includeAudio && ended.content.trim() ? core.spokenFiles.speak(caller.user, ended.content) : undefined,
    settings.includeTriggers ? core.triggers.mentionedIn(caller.user, ended.content) : undefined,
  ]);
  return {
    response: ended.content,
    ...(audio ? { audioUrl: `${request.protocol}://${request.host}/${audio.path}` } : {}),
    ...(triggers ? { triggers } : {}),
  };
}
