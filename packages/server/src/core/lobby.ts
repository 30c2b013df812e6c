import type { User } from './accounts/model.js';
import { Invalid } from './errors.js';
import type { Bus } from './shared-state.js';

/** The longest lobby message, in characters. */
export const LOBBY_MESSAGE = { maxLength: 2000 } as const;

export interface LobbyMessage {
  userId: string;
  username: string;
  content: string;
  /** When it was posted (ms). */
  createdAt: number;
}

const TOPIC = 'lobby.message';

/**
 * The lobby: one room where every signed-in user may talk to everyone there. It is live only:
 * a message reaches the lobby's sockets on every instance (through the bus) and is not stored.
 */
export class LobbyService {
  constructor(private readonly bus: Bus) {}

  async post(user: User, content: string): Promise<LobbyMessage> {
    if (!content.trim()) throw new Invalid('content must not be empty', 'content');
    if (content.length > LOBBY_MESSAGE.maxLength) {
      throw new Invalid(`content must be at most ${LOBBY_MESSAGE.maxLength} characters`, 'content');
    }
    const message: LobbyMessage = { userId: user.id, username: user.username, content, createdAt: Date.now() };
    await this.bus.publish(TOPIC, message);
    return message;
  }

  /** Calls `onMessage` with every message posted, on any instance; resolves to a function that stops it. */
  async listen(onMessage: (message: LobbyMessage) => void): Promise<() => Promise<void>> {
    return this.bus.subscribe(TOPIC, (message) => onMessage(message as LobbyMessage));
  }
}
