import websocket from '@fastify/websocket';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import type { Credentials } from '../../core/accounts/authenticate.js';
import type { Core } from '../../core/index.js';
import { SESSION_COOKIE, bearerToken } from '../auth.js';
import { nativeErrorBody } from '../errors.js';
import { NATIVE_PREFIX } from '../native/index.js';
import { ErrorBody } from '../native/schemas.js';
import type { Socket } from './connection.js';
import { CLIENT_FRAMES, SERVER_FRAMES, describeFrames } from './frames.js';
import { Hub } from './hub.js';

/** How long a closing handshake may take before the socket is cut (and what it holds is freed). */
const CLOSE_TIMEOUT_MS = 5000;

const DESCRIPTION = `Upgrade to a WebSocket (\`ws://…/api/v1/ws\`) that carries typed JSON frames.

Authenticate with the session cookie, \`?token=\` (an API key or a session token), an \`Authorization: Bearer\` header, or a first frame \`{"type":"auth","token":…}\`; a socket not authenticated within \`realtime.authTimeoutMs\` is closed with 4408. A connection counts as one request against your quota, and so does each \`subscribe\`, \`message\`, \`resume\` and \`stop\` frame (credentials are checked again each time).

Every client frame may carry an \`id\`, echoed as \`ref\` in its answer or error.

Client frames:
${describeFrames(CLIENT_FRAMES)}

Server frames:
${describeFrames(SERVER_FRAMES)}

Close codes: 1001 the server is shutting down; 1009 a frame over \`realtime.maxPayloadBytes\`; 1013 too slow (more than \`realtime.maxBufferedBytes\` waiting to be sent: reconnect and \`resume\`); 4401 credentials refused or revoked; 4408 not authenticated in time; 4429 too many sockets for the user, or over quota. A socket that misses a heartbeat ping (\`realtime.heartbeatMs\`) is cut.`;

interface RealtimeContext {
  core: Core;
  config: Config;
  registry: Registry;
}

/** The native WebSocket at `/api/v1/ws`. */
export async function realtimeApi(app: FastifyInstance, { core, config, registry }: RealtimeContext): Promise<void> {
  const hub = new Hub(core, config.realtime, app.log, registry);
  // On the root: every route answers an upgrade, this one by taking it, the others by closing it.
  // `closeTimeout` is newer than ws's published types.
  const options = { maxPayload: config.realtime.maxPayloadBytes, closeTimeout: CLOSE_TIMEOUT_MS };
  await app.register(websocket, {
    options,
    preClose: () => hub.close(),
    // Protocol errors (an oversize frame, bad UTF-8) close the socket with their code already;
    // network errors end it. Neither is the server's fault.
    errorHandler: (err, _socket, request) => request.log.debug({ err }, 'websocket error'),
  });
  await app.register(
    async (scope) => {
      scope.route({
        method: 'GET',
        url: '/ws',
        // The URL may hold a token: no request lines in the log for this route.
        logLevel: 'warn',
        schema: {
          tags: ['realtime'],
          summary: 'The native WebSocket: live messages, reply deltas, typing and presence',
          description: DESCRIPTION,
          querystring: Type.Object(
            {
              token: Type.Optional(
                Type.String({ minLength: 1, maxLength: 4096, description: 'An API key or a session token' }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 426: ErrorBody },
        },
        handler: (_request, reply) =>
          reply
            .code(426)
            .header('upgrade', 'websocket')
            .send(nativeErrorBody({ code: 'UPGRADE_REQUIRED', message: 'Connect with a WebSocket client' })),
        wsHandler: (socket, request) => {
          const { credentials, malformed } = credentialsOf(request, config.cors.origins);
          hub.connect(socket as Socket, request.ip).open(credentials, malformed);
        },
      });
    },
    { prefix: NATIVE_PREFIX },
  );
  await hub.start();
}

/**
 * `?token=` first, then the Authorization header (both bearers), then the session cookie. The
 * cookie counts only from the server's own origin or an allowed one: a browser would send it to a
 * socket opened by any page of the same site (cross-site WebSocket hijacking).
 */
function credentialsOf(
  request: FastifyRequest,
  allowedOrigins: readonly string[],
): { credentials: Credentials; malformed: boolean } {
  const { token } = request.query as { token?: string };
  const header = token === undefined ? bearerToken(request) : {};
  const { origin } = request.headers;
  const trusted = origin === undefined || allowedOrigins.includes(origin) || hostOf(origin) === request.host;
  const credentials = {
    bearer: token ?? header.bearer,
    sessionCookie: trusted ? request.cookies[SESSION_COOKIE] : undefined,
  };
  return { credentials, malformed: header.malformed === true };
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
