import type { User } from '../accounts/model.js';
import type { ConversationAccess } from '../conversations/access.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.js';
import { outboxEvent, type DomainEventPublisher, type OutboxEvent } from '../events.js';
import { newId } from '../ids.js';
import type { ListedTrigger, Trigger, TriggerRepository } from './model.js';
import {
  MAX_ACTIVE_TRIGGERS,
  MAX_TRIGGERS_PER_USER,
  TRIGGERS_PAGE,
  TRIGGER_CONTENT,
  TRIGGER_DESCRIPTION,
  TRIGGER_NAME,
} from './rules.js';

/** How many of the triggers a user may see are looked through by name: the newest. */
const VISIBLE_SCAN_LIMIT = 1000;

export interface TriggerInput {
  name: string;
  description?: string;
  content: string;
  isPublic?: boolean;
}

/**
 * Triggers: prompt snippets users write, keep to themselves or share, and activate for a
 * conversation. They are plain text added to the system prompt; nothing else is built in.
 */
export class TriggerService {
  constructor(
    private readonly repo: TriggerRepository,
    private readonly access: ConversationAccess,
    private readonly events: DomainEventPublisher,
  ) {}

  /** Public triggers and the user's own (only theirs with `mine`), newest first. */
  async list(user: User, page: { limit?: number; before?: string; mine?: boolean } = {}): Promise<ListedTrigger[]> {
    const limit = Math.min(Math.max(page.limit ?? TRIGGERS_PAGE.defaultLimit, 1), TRIGGERS_PAGE.maxLimit);
    return this.repo.listVisible(user.id, { ...page, limit });
  }

  async get(user: User, id: string): Promise<ListedTrigger> {
    const trigger = await this.repo.findById(id);
    if (!trigger || !(trigger.isPublic || trigger.creatorId === user.id)) throw new NotFound('Trigger');
    return trigger;
  }

  async create(user: User, input: TriggerInput): Promise<ListedTrigger> {
    const fields = checked(input) as TriggerInput;
    if ((await this.repo.countByCreator(user.id)) >= MAX_TRIGGERS_PER_USER) {
      throw new Conflict(`A user may have at most ${MAX_TRIGGERS_PER_USER} triggers`);
    }
    const now = Date.now();
    const trigger: Trigger = {
      id: newId(),
      creatorId: user.id,
      name: fields.name,
      description: fields.description ?? '',
      content: fields.content,
      isPublic: fields.isPublic ?? false,
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.insert(trigger, this.shared(trigger));
    this.announce(trigger);
    return { ...trigger, creator: user.username };
  }

  /** Changed or deleted by its creator, or by an admin. */
  async update(user: User, id: string, changes: Partial<TriggerInput>): Promise<ListedTrigger> {
    const current = await this.owned(user, id);
    const patch = { ...checked({ ...current, ...changes }, changes), updatedAt: Date.now() };
    const updated = { ...current, ...patch };
    await this.repo.update(id, patch, current.isPublic ? [] : this.shared(updated));
    if (!current.isPublic) this.announce(updated);
    return updated;
  }

  async delete(user: User, id: string): Promise<void> {
    await this.owned(user, id);
    await this.repo.delete(id);
  }

  /** Names of the creator's triggers; their private ones only for themselves and admins. */
  async namesBy(creatorId: string, options: { includePrivate: boolean }): Promise<string[]> {
    return this.repo.namesBy(creatorId, options.includePrivate);
  }

  /** The triggers active in a conversation the user can read. */
  async active(user: User, conversationId: string): Promise<Trigger[]> {
    const conversation = await this.access.conversation(user, conversationId);
    return this.repo.active(conversation.id);
  }

  /** What a reply's context adds to the system prompt (the caller has read access already). */
  async activeIn(conversationId: string): Promise<Trigger[]> {
    return this.repo.active(conversationId);
  }

  /** Replaces the conversation's active triggers with these, which the user must be able to see. */
  async activate(user: User, conversationId: string, triggerIds: string[]): Promise<Trigger[]> {
    const conversation = await this.access.conversation(user, conversationId, 'manage');
    const ids = [...new Set(triggerIds)];
    if (ids.length > MAX_ACTIVE_TRIGGERS) {
      throw new Invalid(`At most ${MAX_ACTIVE_TRIGGERS} triggers may be active at once`, 'triggerIds');
    }
    const found = await this.repo.findManyByIds(ids);
    const usable = new Map(found.filter((t) => t.isPublic || t.creatorId === user.id).map((t) => [t.id, t]));
    const missing = ids.find((id) => !usable.has(id));
    if (missing !== undefined) throw new NotFound(`Trigger ${missing}`);
    await this.repo.setActive(conversation.id, ids, Date.now());
    return ids.map((id) => usable.get(id)!);
  }

  /**
   * Triggers the user may see, each named by its id or its name (ignoring case; the user's own
   * first when a name is shared); NotFound for a name or id that names none.
   */
  async find(user: User, refs: readonly string[]): Promise<Trigger[]> {
    const visible: Trigger[] = await this.repo.listVisible(user.id, { limit: VISIBLE_SCAN_LIMIT });
    // Older triggers than those looked through are found by id.
    const unseen = refs.filter((ref) => !visible.some((t) => t.id === ref));
    const older = unseen.length ? await this.repo.findManyByIds(unseen) : [];
    const candidates = [...visible, ...older.filter((t) => t.isPublic || t.creatorId === user.id)];
    return refs.map((ref) => {
      const named = (t: Trigger) => t.name.toLowerCase() === ref.toLowerCase();
      const found =
        candidates.find((t) => t.id === ref) ??
        candidates.find((t) => named(t) && t.creatorId === user.id) ??
        candidates.find(named);
      if (!found) throw new NotFound(`Trigger '${ref}'`);
      return found;
    });
  }

  /** The names of triggers (among those the user may see) that a text mentions, as whole words. */
  async mentionedIn(user: User, text: string): Promise<string[]> {
    const lower = text.toLowerCase();
    const visible = await this.repo.listVisible(user.id, { limit: VISIBLE_SCAN_LIMIT });
    const names = new Set<string>();
    for (const { name } of visible) {
      if (mentions(lower, name.toLowerCase())) names.add(name);
    }
    return [...names];
  }

  private async owned(user: User, id: string): Promise<ListedTrigger> {
    const trigger = await this.get(user, id);
    if (trigger.creatorId !== user.id && user.role !== 'admin')
      throw new Forbidden('Only its creator may change a trigger');
    return trigger;
  }

  /** A trigger made public is `trigger.shared` for its creator's webhooks. */
  private shared(trigger: Trigger): OutboxEvent[] {
    return trigger.isPublic ? [outboxEvent('trigger.shared', [trigger.creatorId], { trigger })] : [];
  }

  private announce(trigger: Trigger): void {
    if (trigger.isPublic) this.events.publish('trigger.shared', { trigger });
  }
}

/** Trims and checks the fields given (all of them when `given` is omitted). */
function checked(input: TriggerInput, given: Partial<TriggerInput> = input): Partial<TriggerInput> {
  const out: Partial<TriggerInput> = {};
  if (given.name !== undefined) {
    const name = given.name.trim();
    if (name.length < TRIGGER_NAME.minLength || name.length > TRIGGER_NAME.maxLength) {
      throw new Invalid(`name must be ${TRIGGER_NAME.minLength}-${TRIGGER_NAME.maxLength} characters`, 'name');
    }
    out.name = name;
  }
  if (given.description !== undefined) {
    if (given.description.length > TRIGGER_DESCRIPTION.maxLength) {
      throw new Invalid(`description must be at most ${TRIGGER_DESCRIPTION.maxLength} characters`, 'description');
    }
    out.description = given.description;
  }
  if (given.content !== undefined) {
    if (!given.content.trim() || given.content.length > TRIGGER_CONTENT.maxLength) {
      throw new Invalid(
        `content must be ${TRIGGER_CONTENT.minLength}-${TRIGGER_CONTENT.maxLength} characters`,
        'content',
      );
    }
    out.content = given.content;
  }
  if (given.isPublic !== undefined) out.isPublic = given.isPublic;
  return out;
}

function mentions(text: string, name: string): boolean {
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + name.length] ?? '';
    if (!/[\p{L}\p{N}]/u.test(before) && !/[\p{L}\p{N}]/u.test(after)) return true;
  }
  return false;
}
