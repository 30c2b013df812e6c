import type { Conversation } from '../conversations/model.js';

/** When the group's bot answers: when its name is mentioned, when a message starts with the prefix, or always. */
export type ReplyPolicy = 'mention' | 'prefix' | 'always';
export const REPLY_POLICIES = ['mention', 'prefix', 'always'] as const satisfies readonly ReplyPolicy[];

/** What the bot remembers: one context for the whole group, or one per member. */
export type Isolation = 'shared' | 'member';
export const ISOLATIONS = ['shared', 'member'] as const satisfies readonly Isolation[];

export type GroupRole = 'owner' | 'member';

/** A room: one conversation whose members all see every message, with a bot that answers by policy. */
export interface Group {
  id: string;
  name: string;
  ownerId: string;
  botId: string | null;
  /** The room's conversation. */
  conversationId: string;
  replyPolicy: ReplyPolicy;
  /** With the `prefix` policy: what a message starts with to be answered. */
  prefix: string | null;
  isolation: Isolation;
  /** Hash of the current invite code; null when none is open. */
  inviteCodeHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface GroupMember {
  groupId: string;
  userId: string;
  role: GroupRole;
  joinedAt: number;
}

export interface GroupRepository {
  /** The group, its room and its owner's membership, atomically. */
  insert(group: Group, owner: GroupMember, room: Conversation): Promise<void>;
  findById(id: string): Promise<Group | undefined>;
  findByInviteCodeHash(hash: string): Promise<Group | undefined>;
  /** The groups the user is a member of, newest first. */
  listForUser(userId: string): Promise<Group[]>;
  update(
    id: string,
    patch: Partial<Pick<Group, 'name' | 'botId' | 'replyPolicy' | 'prefix' | 'isolation' | 'inviteCodeHash'>> & {
      updatedAt: number;
    },
  ): Promise<void>;
  member(groupId: string, userId: string): Promise<GroupMember | undefined>;
  members(groupId: string): Promise<GroupMember[]>;
  memberIds(groupId: string): Promise<string[]>;
  countMembers(groupId: string): Promise<number>;
  /** Adds the member unless already one; false if they were. */
  addMember(member: GroupMember): Promise<boolean>;
  removeMember(groupId: string, userId: string): Promise<boolean>;
  /** The group and its memberships (its room is deleted as a conversation). */
  delete(id: string): Promise<void>;
}
