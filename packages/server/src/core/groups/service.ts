import { createHash, randomBytes } from 'node:crypto';
import type { User } from '../accounts/model.js';
import type { BotService } from '../bots/service.js';
import type { ConversationService } from '../conversations/service.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import type { DomainEventPublisher } from '../events.js';
import type { Group, GroupMember, GroupRepository, Isolation, ReplyPolicy } from './model.js';
import { GROUP_NAME, GROUP_PREFIX, MAX_GROUP_MEMBERS, MAX_OWNED_GROUPS } from './rules.js';

export interface GroupInput {
  name: string;
  botId?: string | null;
  replyPolicy?: ReplyPolicy;
  prefix?: string | null;
  isolation?: Isolation;
}

/**
 * Group rooms: a conversation shared by its members, whose bot answers by the group's reply
 * policy. The owner manages the group and invites with a code; members read, write and leave.
 */
export class GroupService {
  constructor(
    private readonly repo: GroupRepository,
    private readonly bots: BotService,
    private readonly conversations: ConversationService,
    private readonly events: DomainEventPublisher,
  ) {}

  async create(user: User, input: GroupInput): Promise<Group> {
    const bot = input.botId ? await this.bots.get(user, input.botId) : null;
    const settings = checkSettings({ replyPolicy: 'mention', isolation: 'shared', prefix: null, ...input });
    const owned = (await this.repo.listForUser(user.id)).filter((g) => g.ownerId === user.id).length;
    if (owned >= MAX_OWNED_GROUPS) throw new Conflict(`You may own at most ${MAX_OWNED_GROUPS} groups`);
    const now = Date.now();
    const id = newId();
    const room = this.conversations.newConversation(user, {
      botId: bot?.id ?? null,
      groupId: id,
      title: settings.name,
    });
    const group: Group = {
      id,
      name: settings.name,
      ownerId: user.id,
      botId: bot?.id ?? null,
      conversationId: room.id,
      replyPolicy: settings.replyPolicy,
      prefix: settings.prefix,
      isolation: settings.isolation,
      inviteCodeHash: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.repo.insert(group, { groupId: id, userId: user.id, role: 'owner', joinedAt: now }, room);
    this.events.publish('group.created', { group: publicGroup(group) });
    return group;
  }

  async list(user: User): Promise<Group[]> {
    return this.repo.listForUser(user.id);
  }

  /** A group the user is a member of; NotFound for anyone else. */
  async get(user: User, id: string): Promise<Group> {
    return (await this.membership(user, id)).group;
  }

  async update(user: User, id: string, patch: Partial<GroupInput>): Promise<Group> {
    const group = await this.owned(user, id);
    const bot = patch.botId === undefined ? undefined : patch.botId && (await this.bots.get(user, patch.botId));
    const settings = checkSettings({ ...group, ...patch });
    const change = {
      name: settings.name,
      replyPolicy: settings.replyPolicy,
      prefix: settings.prefix,
      isolation: settings.isolation,
      ...(bot === undefined ? {} : { botId: bot ? bot.id : null }),
      updatedAt: Date.now(),
    };
    await this.repo.update(group.id, change);
    if (bot !== undefined) await this.conversations.setBot(group.conversationId, bot ? bot.id : null);
    const updated = { ...group, ...change };
    this.events.publish('group.updated', { group: publicGroup(updated) });
    return updated;
  }

  async delete(user: User, id: string): Promise<void> {
    const group = await this.owned(user, id);
    // The room goes first, while its members are still its audience for the deletion event.
    await this.conversations.deleteRoom(user, group.conversationId);
    await this.repo.delete(group.id);
    this.events.publish('group.deleted', { groupId: group.id });
  }

  /** A new invite code (the previous one stops working); only the owner invites. */
  async invite(user: User, id: string): Promise<{ code: string }> {
    const group = await this.owned(user, id);
    const code = `gi_${randomBytes(16).toString('base64url')}`;
    await this.repo.update(group.id, { inviteCodeHash: hashCode(code), updatedAt: Date.now() });
    return { code };
  }

  async join(user: User, code: string): Promise<Group> {
    const group = await this.repo.findByInviteCodeHash(hashCode(code));
    if (!group) throw new NotFound('Invite');
    if (await this.repo.member(group.id, user.id)) return group;
    if ((await this.repo.countMembers(group.id)) >= MAX_GROUP_MEMBERS) {
      throw new Conflict(`A group has at most ${MAX_GROUP_MEMBERS} members`);
    }
    const member: GroupMember = { groupId: group.id, userId: user.id, role: 'member', joinedAt: Date.now() };
    if (await this.repo.addMember(member))
      this.events.publish('group.member.joined', { groupId: group.id, userId: user.id });
    return group;
  }

  async leave(user: User, id: string): Promise<void> {
    const { group } = await this.membership(user, id);
    if (group.ownerId === user.id) throw new Conflict('The owner cannot leave the group; delete it instead');
    await this.removeMember(group, user.id);
  }

  /** The owner removes a member. */
  async remove(user: User, id: string, memberId: string): Promise<void> {
    const group = await this.owned(user, id);
    if (memberId === user.id) throw new Conflict('The owner cannot leave the group; delete it instead');
    if (!(await this.repo.member(group.id, memberId))) throw new NotFound('Member');
    await this.removeMember(group, memberId);
  }

  async members(user: User, id: string): Promise<GroupMember[]> {
    const { group } = await this.membership(user, id);
    return this.repo.members(group.id);
  }

  private async removeMember(group: Group, userId: string): Promise<void> {
    if (await this.repo.removeMember(group.id, userId)) {
      this.events.publish('group.member.left', { groupId: group.id, conversationId: group.conversationId, userId });
    }
  }

  private async membership(user: User, id: string): Promise<{ group: Group; member: GroupMember }> {
    const group = await this.repo.findById(id);
    const member = group && (await this.repo.member(group.id, user.id));
    if (!group || !member) throw new NotFound('Group');
    return { group, member };
  }

  private async owned(user: User, id: string): Promise<Group> {
    const { group } = await this.membership(user, id);
    if (group.ownerId !== user.id) throw new Forbidden('Only the group owner may do this');
    return group;
  }
}

/** A group as members see it: never the invite code's hash. */
export function publicGroup(group: Group) {
  const { inviteCodeHash: _hidden, ...rest } = group;
  return rest;
}

/**
 * Whether a message in a group room asks for the bot: by mention (`@name`, or its display name,
 * in any case), by prefix, or always.
 */
export function addressesBot(
  group: Pick<Group, 'replyPolicy' | 'prefix'>,
  bot: { name: string; displayName: string },
  content: string,
): boolean {
  if (group.replyPolicy === 'always') return true;
  if (group.replyPolicy === 'prefix') return group.prefix !== null && content.trimStart().startsWith(group.prefix);
  const text = content.toLowerCase();
  return [bot.name, bot.displayName].some((name) => name && text.includes(`@${name.toLowerCase()}`));
}

function checkSettings(input: GroupInput & { replyPolicy: ReplyPolicy; isolation: Isolation }) {
  const name = input.name.trim();
  if (name.length < GROUP_NAME.minLength || name.length > GROUP_NAME.maxLength) {
    throw new Invalid(`name must be ${GROUP_NAME.minLength}-${GROUP_NAME.maxLength} characters`, 'name');
  }
  const prefix = input.prefix ?? null;
  if (input.replyPolicy === 'prefix') {
    if (prefix === null || prefix.length < GROUP_PREFIX.minLength || prefix.length > GROUP_PREFIX.maxLength) {
      throw new Invalid(
        `The prefix policy needs a prefix of ${GROUP_PREFIX.minLength}-${GROUP_PREFIX.maxLength} characters`,
        'prefix',
      );
    }
  }
  return { name, replyPolicy: input.replyPolicy, isolation: input.isolation, prefix };
}

function hashCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}
