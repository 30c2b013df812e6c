import type { User } from '../accounts/model.js';
import type { TriggerService } from '../triggers/service.js';
import type { Conversation } from './model.js';
import type { ConversationService } from './service.js';

export interface SessionChoice {
  /** A session without activity for this long is over: the next message begins a new one. */
  idleMs: number;
  /** The model to answer with; set on the session when it differs. */
  model?: string;
  /** Names or ids of triggers to make the session's active ones (replacing those active). */
  triggers?: readonly string[];
}

/**
 * Chat sessions, for surfaces whose clients send prompts without naming a conversation: a session
 * is one of the user's plain conversations (no bot, group or end user). A prompt goes to the
 * latest while it is active, else to a new one, which keeps the triggers active in the one before.
 */
export class ChatSessions {
  constructor(
    private readonly conversations: ConversationService,
    private readonly triggers: TriggerService,
    private readonly now: () => number = Date.now,
  ) {}

  /** The user's sessions, latest activity first. */
  async list(user: User, page: { limit: number; offset?: number }) {
    return this.conversations.list(user, { ...page, plainOnly: true });
  }

  /** The session a prompt goes to now, with the model and triggers asked for. */
  async current(user: User, choice: SessionChoice): Promise<Conversation> {
    // Checked before anything is written: an unknown trigger leaves no new session behind.
    const wanted = choice.triggers && (await this.triggers.find(user, choice.triggers));
    const {
      items: [latest],
    } = await this.conversations.list(user, { plainOnly: true, limit: 1 });
    const ongoing = latest !== undefined && latest.updatedAt > this.now() - choice.idleMs;
    const session = ongoing
      ? await this.withModel(user, latest, choice.model)
      : await this.conversations.create(user, { model: choice.model });
    const triggers = wanted ?? (!ongoing && latest ? await this.usableActive(user, latest) : []);
    if (wanted || triggers.length)
      await this.triggers.activate(
        user,
        session.id,
        triggers.map((t) => t.id),
      );
    return session;
  }

  private async withModel(user: User, session: Conversation, model: string | undefined): Promise<Conversation> {
    if (model === undefined || model === session.model) return session;
    return this.conversations.update(user, session.id, { model });
  }

  /** The triggers active in a session that the user may still use (one made private since is not). */
  private async usableActive(user: User, session: Conversation) {
    const active = await this.triggers.active(user, session.id);
    return active.filter((trigger) => trigger.isPublic || trigger.creatorId === user.id);
  }
}
