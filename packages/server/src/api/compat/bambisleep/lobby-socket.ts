import type { Config } from '../../../config/schema.js';
import type { Credentials, Principal } from '../../../core/accounts/authenticate.js';
import { Conflict, Forbidden, Invalid, TooLarge, Unauthorized } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import type { LobbyMessage } from '../../../core/lobby.js';
import type { SurfaceLimit } from '../../../core/quotas.js';
import { toApiError } from '../../errors.js';
import type { Socket } from '../../realtime/connection.js';
import { FrameQueue, Heartbeat, isOpen } from '../../realtime/socket-plumbing.js';
import { errorFrame, lobbyFrame } from './shapes.js';

const CLOSE = { goingAway: 1001, tooSlow: 1013, unauthorized: 4401, authTimeout: 4408, tooMany: 4429 } as const;
/** The largest frame read: a lobby message at its longest, escaped, with room to spare. */
const MAX_FRAME_BYTES = 16 * 1024;
/** Frames read and not yet handled: at this many the socket is not read until they are (TCP pushes back). */
const MAX_PENDING_FRAMES = 8;

type ClientFrame = { type: 'auth'; token: string } | { type: 'message'; content: string };

/**
 * The sockets of the lobby on this instance. A socket authenticates with its first frame; once
 * authenticated it hears every lobby message, from every instance, and may post to it.
 */
export class LobbySockets {
  private readonly sockets = new Set<LobbySocket>();
  private readonly members = new Set<LobbySocket>();
  private readonly perUser = new Map<string, number>();
  private stopListening: (() => Promise<void>) | undefined;

  constructor(
    readonly core: Core,
    readonly limits: Config['realtime'],
    readonly surfaceLimit: SurfaceLimit,
  ) {}

  async start(): Promise<void> {
    this.stopListening = await this.core.lobby.listen((message) => this.broadcast(message));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.close(CLOSE.goingAway, 'The server is shutting down');
    const stop = this.stopListening;
    this.stopListening = undefined;
    await stop?.();
  }

  connect(socket: Socket, ip: string): void {
    this.sockets.add(new LobbySocket(socket, ip, this));
  }

  /** Lets an authenticated socket in; false when its user has too many here already. */
  join(member: LobbySocket, userId: string): boolean {
    const count = this.perUser.get(userId) ?? 0;
    if (count >= this.limits.maxSocketsPerUser) return false;
    this.perUser.set(userId, count + 1);
    this.members.add(member);
    return true;
  }

  closed(member: LobbySocket, userId: string | undefined): void {
    this.sockets.delete(member);
    if (!this.members.delete(member) || userId === undefined) return;
    const count = this.perUser.get(userId)! - 1;
    if (count === 0) this.perUser.delete(userId);
    else this.perUser.set(userId, count);
  }

  private broadcast(message: LobbyMessage): void {
    const text = lobbyFrame(message);
    for (const member of this.members) member.send(text);
  }
}

/**
 * One socket: its authentication, its health (heartbeat, backpressure), and its frames, handled one
 * at a time in the order they came. Every frame counts as a request against the limits of the
 * socket's user (of its address before it authenticated), which bounds how fast a socket may post.
 */
class LobbySocket {
  private principal: Principal | undefined;
  private credentials: Credentials = {};
  private closing = false;
  private readonly frames: FrameQueue;
  private readonly heartbeat: Heartbeat;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    private readonly ip: string,
    private readonly lobby: LobbySockets,
  ) {
    this.frames = new FrameQueue(socket, MAX_PENDING_FRAMES, () => this.closing);
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('close', () => this.closed());
    this.heartbeat = new Heartbeat(socket, lobby.limits.heartbeatMs, {
      silent: () => this.end(),
      beat: () => this.recheck(),
    });
    this.authTimer = setTimeout(() => {
      this.sendError(new Unauthorized('Not authenticated in time: send an auth frame first'));
      this.close(CLOSE.authTimeout, 'Not authenticated in time');
    }, lobby.limits.authTimeoutMs);
  }

  send(text: string): void {
    if (this.closing || !isOpen(this.socket)) return;
    this.socket.send(text);
    if (this.socket.bufferedAmount > this.lobby.limits.maxBufferedBytes) {
      this.close(CLOSE.tooSlow, 'Too slow: more than realtime.maxBufferedBytes waiting to be sent');
    }
  }

  close(code: number, reason: string): void {
    if (this.end()) this.socket.close(code, reason);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    this.frames.push(() => this.handle(data, isBinary).catch((err: unknown) => this.fail(err)));
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    const parsed = parseFrame(data, isBinary);
    if (!(parsed instanceof Error) && parsed.type === 'auth') return this.authenticate(parsed.token);
    const principal = await this.admit(this.credentials);
    if (parsed instanceof Error) throw parsed;
    // Not a refusal of credentials: the socket stays open for its auth frame.
    if (!principal) return this.sendError(new Unauthorized('Authenticate first: send {"type":"auth","token":…}'));
    await this.lobby.core.lobby.post(principal.user, parsed.content);
  }

  private async authenticate(token: string): Promise<void> {
    if (this.principal) throw new Conflict('This socket is already authenticated');
    const credentials = { bearer: token };
    const principal = (await this.admit(credentials))!;
    if (this.closing) return;
    if (!this.lobby.join(this, principal.user.id)) {
      const message = `At most ${this.lobby.limits.maxSocketsPerUser} sockets per user`;
      this.send(errorFrame({ code: 'RATE_LIMITED', message }));
      this.close(CLOSE.tooMany, 'Too many sockets for this user');
      return;
    }
    clearTimeout(this.authTimer);
    this.principal = principal;
    this.credentials = credentials;
    const { id, username } = principal.user;
    this.send(JSON.stringify({ type: 'auth', success: true, user: { id, username } }));
  }

  /** One request of the socket's user (credentials checked again), or of its address before it authenticated. */
  private async admit(credentials: Credentials): Promise<Principal | undefined> {
    const { principal } = await this.lobby.core.gatekeeper.admit({
      credentials,
      ip: this.ip,
      auth: credentials.bearer === undefined ? 'none' : 'required',
      quota: true,
      surfaceLimit: this.lobby.surfaceLimit,
    });
    return principal;
  }

  /** Credentials revoked since the last beat (a logout, a deleted key, a disabled account) end the socket. */
  private recheck(): void {
    if (!this.principal) return;
    this.lobby.core.gatekeeper
      .admit({ credentials: this.credentials, ip: this.ip, auth: 'required', quota: false })
      .catch((err: unknown) => isRefusal(err) && this.fail(err));
  }

  /** Answers a failed frame with an error frame; refused credentials also close the socket. */
  private fail(err: unknown): void {
    this.sendError(err);
    if (isRefusal(err)) this.close(CLOSE.unauthorized, 'Unauthorized');
  }

  private sendError(err: unknown): void {
    this.send(errorFrame(toApiError(err)));
  }

  /** Decides the socket's end (once: false when it was decided before). */
  private end(): boolean {
    if (this.closing) return false;
    this.closing = true;
    this.heartbeat.stop();
    clearTimeout(this.authTimer);
    return true;
  }

  private closed(): void {
    this.end();
    this.lobby.closed(this, this.principal?.user.id);
  }
}

function isRefusal(err: unknown): boolean {
  return err instanceof Unauthorized || err instanceof Forbidden;
}

function parseFrame(data: Buffer, isBinary: boolean): ClientFrame | Error {
  if (isBinary) return new Invalid('Frames are JSON text, not binary');
  if (data.length > MAX_FRAME_BYTES) return new TooLarge(`A frame may be at most ${MAX_FRAME_BYTES} bytes`);
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return new Invalid('Frames are JSON objects');
  }
  const { type, token, content } = (frame ?? {}) as Record<string, unknown>;
  if (type === 'auth') {
    return typeof token === 'string' && token.length > 0 && token.length <= 4096
      ? { type, token }
      : new Invalid('An auth frame carries a token: a session token or an API key', 'token');
  }
  if (type === 'message') {
    return typeof content === 'string'
      ? { type, content }
      : new Invalid('A message frame carries a content string', 'content');
  }
  return new Invalid('Frames are {"type":"auth","token":…} or {"type":"message","content":…}', 'type');
}
