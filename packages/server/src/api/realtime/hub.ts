import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import type { Message } from '../../core/conversations/model.js';
import type { Core } from '../../core/index.js';
import type { MessageDelta } from '../../core/events.js';
import type { Presence, RealtimeListener, Typing } from '../../core/realtime.js';
import { messageBody } from '../native/reply-events.js';
import { CLOSE, Connection, type CloseReason, type Socket } from './connection.js';
import { completedFrame, deltaFrame, frame } from './frames.js';

/**
 * The sockets of this instance and the rooms (conversations) they joined. Events come from the
 * bus, one subscription per topic for the whole instance, and each is serialised once and written
 * to the sockets of its room.
 */
export class Hub implements RealtimeListener {
  private readonly connections = new Set<Connection>();
  private readonly rooms = new Map<string, Set<Connection>>();
  private readonly users = new Map<string, Set<Connection>>();
  private readonly closes: Counter<'reason'>;
  private stopListening: (() => Promise<void>) | undefined;

  constructor(
    private readonly core: Core,
    private readonly limits: Config['realtime'],
    readonly log: FastifyBaseLogger,
    registry: Registry,
  ) {
    const connections = this.connections;
    new Gauge({
      name: 'parley_websocket_connections',
      help: 'Open WebSocket connections, authenticated or not',
      registers: [registry],
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'parley_websocket_buffered_bytes',
      help: 'Bytes written to WebSocket connections and not yet taken by the network',
      registers: [registry],
      collect() {
        let sum = 0;
        for (const connection of connections) sum += connection.bufferedAmount;
        this.set(sum);
      },
    });
    this.closes = new Counter({
      name: 'parley_websocket_closes_total',
      help: 'WebSocket connections ended (or being closed), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
  }

  async start(): Promise<void> {
    this.stopListening = await this.core.realtime.listen(this);
  }

  /** Closes every socket (going away), then stops listening to the bus. */
  async close(): Promise<void> {
    for (const connection of this.connections)
      connection.close(CLOSE.goingAway, 'The server is shutting down', 'shutdown');
    const stop = this.stopListening;
    this.stopListening = undefined;
    await stop?.();
  }

  connect(socket: Socket, ip: string): Connection {
    const connection = new Connection(socket, ip, this.core, this.limits, this);
    this.connections.add(connection);
    return connection;
  }

  /** Counts an authenticated socket against its user's limit; false when the user has too many. */
  admit(connection: Connection, userId: string): boolean {
    let sockets = this.users.get(userId);
    if (!sockets) this.users.set(userId, (sockets = new Set()));
    if (sockets.size >= this.limits.maxSocketsPerUser) return false;
    sockets.add(connection);
    return true;
  }

  join(connection: Connection, conversationId: string): void {
    let room = this.rooms.get(conversationId);
    if (!room) this.rooms.set(conversationId, (room = new Set()));
    room.add(connection);
  }

  leave(connection: Connection, conversationId: string): void {
    const room = this.rooms.get(conversationId);
    room?.delete(connection);
    if (room?.size === 0) this.rooms.delete(conversationId);
  }

  /** A socket's end is decided (it is closing, or closed by its client). */
  ending(reason: CloseReason): void {
    this.closes.inc({ reason });
  }

  /** The socket is gone (its rooms were left before): forget it. */
  closed(connection: Connection, userId: string | undefined): void {
    this.connections.delete(connection);
    const sockets = userId === undefined ? undefined : this.users.get(userId);
    sockets?.delete(connection);
    if (sockets?.size === 0) this.users.delete(userId!);
  }

  messageCreated(message: Message): void {
    const room = this.rooms.get(message.conversationId);
    if (!room) return;
    const text = frame('message', { message: messageBody(message) });
    for (const connection of room) connection.send(text);
  }

  messageDelta(delta: MessageDelta): void {
    const room = this.rooms.get(delta.conversationId);
    if (!room) return;
    let text: string | undefined;
    for (const connection of room) {
      if (connection.takesDelta(delta)) connection.send((text ??= deltaFrame(delta)));
    }
  }

  messageCompleted(message: Message): void {
    const room = this.rooms.get(message.conversationId);
    if (!room) return;
    let text: string | undefined;
    for (const connection of room) {
      if (connection.takesCompletion(message.id)) connection.send((text ??= completedFrame(message)));
    }
  }

  conversationDeleted(conversationId: string): void {
    for (const connection of [...(this.rooms.get(conversationId) ?? [])]) connection.expel(conversationId, 'deleted');
  }

  memberLeft(conversationId: string, userId: string): void {
    for (const connection of [...(this.rooms.get(conversationId) ?? [])]) {
      if (connection.userId === userId) connection.expel(conversationId, 'removed');
    }
  }

  typing({ conversationId, userId, origin }: Typing): void {
    const room = this.rooms.get(conversationId);
    if (!room) return;
    const text = frame('typing', { conversationId, userId });
    for (const connection of room) if (connection.id !== origin) connection.send(text);
  }

  presence({ conversationId, userId, status }: Presence): void {
    const room = this.rooms.get(conversationId);
    if (!room) return;
    const text = frame('presence', { conversationId, userId, status });
    for (const connection of room) if (connection.userId !== userId) connection.send(text);
  }
}
