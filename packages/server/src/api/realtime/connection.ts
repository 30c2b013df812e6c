import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import type { User } from '../../core/accounts/model.js';
import type { Credentials, Principal } from '../../core/accounts/authenticate.js';
import type { Message } from '../../core/conversations/model.js';
import { callerOf } from '../../core/conversations/replies.js';
import { Conflict, Forbidden, Invalid, RateLimited, Unauthorized } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import type { MessageDelta } from '../../core/events.js';
import { TYPING_MIN_INTERVAL_MS } from '../../core/realtime.js';
import { toApiError, type ApiError } from '../errors.js';
import { messageBody } from '../native/reply-events.js';
import { completedFrame, deltaFrame, frame, invalid, parseFrame, type ClientFrame, type FrameRef } from './frames.js';
import type { Hub } from './hub.js';
import { FrameBudget, FrameQueue, Heartbeat, isOpen } from './socket-plumbing.js';

/** What a connection uses of its WebSocket (a `ws` 8 socket, text frames as Buffers). */
export interface Socket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'pong' | 'close', listener: () => void): unknown;
}

/** Close codes of the native WebSocket, as the README documents them. */
export const CLOSE = {
  goingAway: 1001,
  internal: 1011,
  tooSlow: 1013,
  unauthorized: 4401,
  authTimeout: 4408,
  tooMany: 4429,
} as const;

export type CloseReason =
  'client' | 'shutdown' | 'unauthorized' | 'auth_timeout' | 'too_many' | 'slow' | 'heartbeat' | 'internal';

/** Frames read and not yet handled: at this many the socket is not read until they are (TCP pushes back). */
const MAX_PENDING_FRAMES = 8;
/** Frames of any kind one socket may send a second; those beyond are dropped (the quota counts only some). */
const MAX_FRAMES_PER_SECOND = 50;
/** Replies whose deltas one socket keeps count of; beyond, the oldest is forgotten. */
const MAX_TRACKED_REPLIES = 256;

/** The answer to a frame has been given already: the socket was refused and is closing. */
const REFUSED = Symbol('refused');

/** How far one socket has been sent one reply: in order, each delta once, then its completion once. */
interface ReplyProgress {
  conversationId: string;
  /** The last seq sent. */
  last: number;
  /** Its deltas come from the stream buffer (a resume, or deltas the bus delivered before the socket joined). */
  following: boolean;
  unfollow?: () => void;
  /** Its `completed` has been sent. */
  ended: boolean;
  /** Its completion came over the bus while it was followed. */
  completedOnBus: boolean;
}

/**
 * One WebSocket: its authentication, the rooms it joined, the replies it is being sent, and its
 * health (heartbeat, backpressure). Frames are handled one at a time, in the order they came.
 */
export class Connection {
  readonly id = randomUUID();
  private principal: Principal | undefined;
  private credentials: Credentials = {};
  /** conversationId → when the socket last told it of typing. */
  private readonly rooms = new Map<string, { typedAt: number }>();
  private readonly replies = new Map<string, ReplyProgress>();
  private closing = false;
  private readonly frames: FrameQueue;
  private readonly budget: FrameBudget;
  private readonly heartbeat: Heartbeat;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    private readonly ip: string,
    private readonly core: Core,
    private readonly limits: Config['realtime'],
    private readonly hub: Hub,
  ) {
    this.frames = new FrameQueue(socket, MAX_PENDING_FRAMES, () => this.closing);
    this.budget = new FrameBudget(MAX_FRAMES_PER_SECOND, (message, retryAfterMs) =>
      this.sendError({ status: 429, code: 'RATE_LIMITED', message, details: { retryAfterMs } }),
    );
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('close', () => this.closed());
    this.heartbeat = new Heartbeat(socket, limits.heartbeatMs, {
      silent: () => this.end('heartbeat'),
      beat: () => this.recheck(),
    });
    this.authTimer = setTimeout(
      () => this.close(CLOSE.authTimeout, 'Not authenticated in time', 'auth_timeout'),
      limits.authTimeoutMs,
    );
  }

  get userId(): string | undefined {
    return this.principal?.user.id;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Admits the socket with the credentials of its upgrade request (one request of the user's
   * quota, or of the IP's without credentials); without any, it waits for an `auth` frame.
   * Frames that come meanwhile wait for the outcome.
   */
  open(credentials: Credentials, malformed: boolean): void {
    const admitted = this.core.gatekeeper
      .admit({ credentials, malformed, ip: this.ip, auth: 'optional', quota: true })
      .then(
        ({ principal }) => principal && this.accept(principal, credentials),
        (err: unknown) => this.refuse(err),
      );
    this.frames.waitFor(admitted);
  }

  /** Writes a frame, and drops a socket that does not read what it is sent fast enough. */
  send(text: string): void {
    if (this.closing || !isOpen(this.socket)) return;
    this.socket.send(text);
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.close(CLOSE.tooSlow, 'Too slow: more than realtime.maxBufferedBytes waiting to be sent', 'slow');
    }
  }

  /** Closes with a code; what was written before still reaches a client that reads it. */
  close(code: number, reason: string, why: CloseReason): void {
    if (this.end(why)) this.socket.close(code, reason);
  }

  /** Whether a delta from the bus is the next one this socket should be sent (else it was, or will come another way). */
  takesDelta(delta: MessageDelta): boolean {
    const progress = this.replies.get(delta.messageId) ?? this.track(delta.messageId, delta.conversationId, 0);
    if (progress.following || progress.ended || delta.seq <= progress.last) return false;
    if (delta.seq === progress.last + 1) {
      progress.last = delta.seq;
      return true;
    }
    // The socket joined mid-reply: what it missed, and the rest, come from the stream buffer.
    progress.following = true;
    void this.catchUp(delta.messageId, progress);
    return false;
  }

  /** Whether a completion from the bus should be sent to this socket (else it was, or will come another way). */
  takesCompletion(messageId: string): boolean {
    const progress = this.replies.get(messageId);
    if (!progress) return true;
    if (progress.following) {
      progress.completedOnBus = true;
      return false;
    }
    this.replies.delete(messageId);
    return !progress.ended;
  }

  /** Takes the socket out of a room it may no longer be in, and tells it why. */
  expel(conversationId: string, reason: 'deleted' | 'removed'): void {
    if (this.leaveRoom(conversationId)) this.send(frame('unsubscribed', { conversationId, reason }));
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing || !this.budget.allows()) return;
    const parsed = isBinary ? { error: invalid('Frames are JSON text, not binary') } : parseFrame(data.toString());
    this.frames.push(() => {
      if ('error' in parsed) return this.sendError(parsed.error, parsed.ref);
      return this.handle(parsed.frame).catch((err: unknown) => this.fail(err, parsed.frame.id));
    });
  }

  private async handle(f: ClientFrame): Promise<void> {
    if (f.type === 'ping') return this.send(frame('pong', { ref: f.id }));
    if (f.type === 'auth') return this.authenticate(f.token, f.id);
    if (!this.principal) throw new Unauthorized('Authenticate first: send an auth frame');
    switch (f.type) {
      case 'subscribe':
        return this.subscribe(f.conversationId, f.id);
      case 'unsubscribe':
        this.leaveRoom(f.conversationId);
        return this.send(frame('unsubscribed', { ref: f.id, conversationId: f.conversationId, reason: 'requested' }));
      case 'message':
        return this.sendMessage(f);
      case 'typing':
        return this.typing(this.principal.user, f.conversationId);
      case 'resume':
        return this.resume(f.messageId, f.after);
      case 'stop':
        return this.stop(f.messageId, f.id);
    }
  }

  private async authenticate(token: string, ref: FrameRef | undefined): Promise<void> {
    if (this.principal) throw new Conflict('This socket is already authenticated');
    const credentials = { bearer: token };
    let principal: Principal | undefined;
    try {
      ({ principal } = await this.core.gatekeeper.admit({ credentials, ip: this.ip, auth: 'required', quota: true }));
    } catch (err) {
      this.refuse(err, ref);
      return;
    }
    this.accept(principal!, credentials);
  }

  private accept(principal: Principal, credentials: Credentials): void {
    if (this.closing) return;
    clearTimeout(this.authTimer);
    if (!this.hub.admit(this, principal.user.id)) {
      this.sendError({
        status: 429,
        code: 'RATE_LIMITED',
        message: `At most ${this.limits.maxSocketsPerUser} sockets per user`,
      });
      this.close(CLOSE.tooMany, 'Too many sockets for this user', 'too_many');
      return;
    }
    this.principal = principal;
    this.credentials = credentials;
    this.send(frame('ready', { userId: principal.user.id }));
  }

  /**
   * Counts a frame that asks for work against the user's quota, as a request, with the socket's
   * credentials checked again (a revoked key or an ended session closes the socket).
   */
  private async admit(): Promise<User> {
    try {
      const admission = await this.core.gatekeeper.admit({
        credentials: this.credentials,
        ip: this.ip,
        auth: 'required',
        quota: true,
      });
      this.principal = admission.principal!;
      return this.principal.user;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      this.refuse(err);
      throw REFUSED;
    }
  }

  private async subscribe(conversationId: string, ref: FrameRef | undefined): Promise<void> {
    const user = await this.admit();
    if (!this.rooms.has(conversationId)) {
      if (this.rooms.size >= this.limits.maxSubscriptions) {
        throw new Invalid(`A socket may join at most ${this.limits.maxSubscriptions} rooms`, 'conversationId');
      }
      await this.core.realtime.join(user, conversationId);
      if (this.closing) {
        this.core.realtime.leave(user.id, conversationId);
        return;
      }
      this.rooms.set(conversationId, { typedAt: 0 });
      this.hub.join(this, conversationId);
    }
    this.send(frame('subscribed', { ref, conversationId, online: this.core.realtime.online(conversationId, user.id) }));
  }

  private async sendMessage(f: Extract<ClientFrame, { type: 'message' }>): Promise<void> {
    await this.admit();
    const exchange = await this.core.replies.send(callerOf(this.principal!, 'native'), f.conversationId, {
      content: f.content,
      clientId: f.clientId,
      attachmentIds: f.attachmentIds,
    });
    this.send(
      frame('sent', {
        ref: f.id,
        conversationId: f.conversationId,
        clientId: f.clientId,
        duplicate: exchange.duplicate === true,
        userMessage: messageBody(exchange.userMessage),
        reply: exchange.reply && messageBody(exchange.reply),
      }),
    );
  }

  /** Not counted as a request: typing is throttled per room instead, and needs the room joined. */
  private async typing(user: User, conversationId: string): Promise<void> {
    const room = this.rooms.get(conversationId);
    if (!room) throw new Invalid('Subscribe to the conversation first', 'conversationId');
    const now = Date.now();
    if (now - room.typedAt < TYPING_MIN_INTERVAL_MS) return;
    room.typedAt = now;
    await this.core.realtime.typing(user, conversationId, this.id);
  }

  private async resume(messageId: string, after: number): Promise<void> {
    const user = await this.admit();
    const reply = await this.core.replies.reply(user, messageId);
    const existing = this.replies.get(reply.id);
    // Already on its way to this socket: what was sent before reaches the client before what follows.
    if (existing?.following || existing?.ended) return;
    const progress = existing ?? this.track(reply.id, reply.conversationId, after);
    progress.last = Math.max(progress.last, after);
    try {
      await this.follow(reply, progress);
    } catch (err) {
      this.forget(reply.id);
      throw err;
    }
  }

  private async stop(messageId: string, ref: FrameRef | undefined): Promise<void> {
    const user = await this.admit();
    // The wait for the reply to end must not hold up the frames after this one.
    this.core.replies.stop(user, messageId).then(
      (message) => this.send(frame('stopped', { ref, message: messageBody(message) })),
      (err: unknown) => this.fail(err, ref),
    );
  }

  private async catchUp(messageId: string, progress: ReplyProgress): Promise<void> {
    try {
      await this.follow(await this.core.replies.reply(this.principal!.user, messageId), progress);
    } catch (err) {
      // Its live deltas are skipped from now on; its completion (with the whole text) still comes.
      progress.following = false;
      progress.last = Infinity;
      this.fail(err);
    }
  }

  private async follow(reply: Message, progress: ReplyProgress): Promise<void> {
    progress.following = true;
    const current = () => this.replies.get(reply.id) === progress && !progress.ended;
    const unfollow = await this.core.replies.followReply(reply, progress.last, (event) => {
      if (!current()) return;
      if (event.type === 'delta') {
        if (event.seq !== progress.last + 1) return;
        progress.last = event.seq;
        this.send(deltaFrame({ messageId: reply.id, conversationId: reply.conversationId, ...event }));
        return;
      }
      progress.ended = true;
      progress.following = false;
      progress.unfollow?.();
      this.send(completedFrame(event.message));
      // The bus's completion is still to come only to a socket in the room that has not had it yet.
      if (progress.completedOnBus || !this.rooms.has(progress.conversationId)) this.replies.delete(reply.id);
    });
    if (current()) progress.unfollow = unfollow;
    else unfollow();
  }

  private track(messageId: string, conversationId: string, last: number): ReplyProgress {
    if (this.replies.size >= MAX_TRACKED_REPLIES) this.forget(this.replies.keys().next().value!);
    const progress: ReplyProgress = { conversationId, last, following: false, ended: false, completedOnBus: false };
    this.replies.set(messageId, progress);
    return progress;
  }

  private forget(messageId: string): void {
    this.replies.get(messageId)?.unfollow?.();
    this.replies.delete(messageId);
  }

  private leaveRoom(conversationId: string): boolean {
    if (!this.rooms.delete(conversationId)) return false;
    this.hub.leave(this, conversationId);
    this.core.realtime.leave(this.principal!.user.id, conversationId);
    for (const [messageId, progress] of this.replies) {
      if (progress.conversationId === conversationId) this.forget(messageId);
    }
    return true;
  }

  /** Credentials revoked since the last beat (a logout, a deleted key, a disabled account) end the socket. */
  private recheck(): void {
    if (!this.principal) return;
    this.core.gatekeeper.admit({ credentials: this.credentials, ip: this.ip, auth: 'required', quota: false }).then(
      ({ principal }) => {
        if (!this.closing) this.principal = principal;
      },
      (err: unknown) => (isRefusal(err) ? this.refuse(err) : this.hub.log.warn({ err }, 'websocket recheck failed')),
    );
  }

  /** Tells why the socket is refused, then closes it. */
  private refuse(err: unknown, ref?: FrameRef): void {
    this.fail(err, ref);
    if (err instanceof RateLimited) this.close(CLOSE.tooMany, 'Rate limited', 'too_many');
    else if (isRefusal(err)) this.close(CLOSE.unauthorized, 'Unauthorized', 'unauthorized');
    else this.close(CLOSE.internal, 'Internal error', 'internal');
  }

  private fail(err: unknown, ref?: FrameRef): void {
    if (err === REFUSED) return;
    const apiError = toApiError(err);
    if (apiError.status >= 500) this.hub.log.error({ err }, 'websocket frame failed');
    this.sendError(apiError, ref);
  }

  private sendError({ code, message, details }: ApiError, ref?: FrameRef): void {
    this.send(frame('error', { ref, code, message, details }));
  }

  /** Decides the socket's end (once: false when it was decided before), and stops everything it takes part in. */
  private end(why: CloseReason): boolean {
    if (this.closing) return false;
    this.closing = true;
    this.hub.ending(why);
    this.detach();
    return true;
  }

  private detach(): void {
    this.heartbeat.stop();
    clearTimeout(this.authTimer);
    for (const conversationId of [...this.rooms.keys()]) this.leaveRoom(conversationId);
    for (const messageId of [...this.replies.keys()]) this.forget(messageId);
  }

  private closed(): void {
    this.end('client');
    this.hub.closed(this, this.userId);
  }
}

function isRefusal(err: unknown): boolean {
  return err instanceof Unauthorized || err instanceof Forbidden;
}
