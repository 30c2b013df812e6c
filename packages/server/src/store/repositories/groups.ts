import type { Kysely, Selectable } from 'kysely';
import type { Conversation } from '../../core/conversations/model.js';
import type { Group, GroupMember, GroupRepository } from '../../core/groups/model.js';
import { compiledOnce } from '../compiled.js';
import type { GroupMembersTable, GroupsTable, Tables } from '../tables.js';
import { toConversationRow } from './conversations.js';

export class SqlGroupRepository implements GroupRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  async insert(group: Group, owner: GroupMember, room: Conversation): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('conversations').values(toConversationRow(room)).execute();
      await trx.insertInto('groups').values(group).execute();
      await trx.insertInto('groupMembers').values(owner).execute();
    });
  }

  async findById(id: string): Promise<Group | undefined> {
    const row = await this.db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toGroup(row);
  }

  async findByInviteCodeHash(hash: string): Promise<Group | undefined> {
    const row = await this.db.selectFrom('groups').selectAll().where('inviteCodeHash', '=', hash).executeTakeFirst();
    return row && toGroup(row);
  }

  async listForUser(userId: string): Promise<Group[]> {
    const rows = await this.db
      .selectFrom('groups')
      .innerJoin('groupMembers', 'groupMembers.groupId', 'groups.id')
      .selectAll('groups')
      .where('groupMembers.userId', '=', userId)
      .orderBy('groups.id', 'desc')
      .execute();
    return rows.map(toGroup);
  }

  async update(
    id: string,
    patch: Partial<Pick<Group, 'name' | 'botId' | 'replyPolicy' | 'prefix' | 'isolation' | 'inviteCodeHash'>> & {
      updatedAt: number;
    },
  ): Promise<void> {
    await this.db.updateTable('groups').set(patch).where('id', '=', id).execute();
  }

  /** Asked on every message in a group's room. */
  private readonly membership = compiledOnce(() =>
    this.db.selectFrom('groupMembers').selectAll().where('groupId', '=', '').where('userId', '=', '').compile(),
  );

  async member(groupId: string, userId: string): Promise<GroupMember | undefined> {
    const [row] = (await this.db.executeQuery<Selectable<GroupMembersTable>>(this.membership([groupId, userId]))).rows;
    return row && toMember(row);
  }

  async members(groupId: string): Promise<GroupMember[]> {
    const rows = await this.db
      .selectFrom('groupMembers')
      .selectAll()
      .where('groupId', '=', groupId)
      .orderBy('joinedAt')
      .orderBy('userId')
      .execute();
    return rows.map(toMember);
  }

  async memberIds(groupId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('groupMembers').select('userId').where('groupId', '=', groupId).execute();
    return rows.map((r) => r.userId);
  }

  async countMembers(groupId: string): Promise<number> {
    const row = await this.db
      .selectFrom('groupMembers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('groupId', '=', groupId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async addMember(member: GroupMember): Promise<boolean> {
    const result = await this.db
      .insertInto('groupMembers')
      .values(member)
      .onConflict((oc) => oc.columns(['groupId', 'userId']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async removeMember(groupId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('groupMembers')
      .where('groupId', '=', groupId)
      .where('userId', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('groupMembers').where('groupId', '=', id).execute();
      await trx.deleteFrom('groups').where('id', '=', id).execute();
    });
  }
}

function toGroup(row: Selectable<GroupsTable>): Group {
  return {
    ...row,
    replyPolicy: row.replyPolicy as Group['replyPolicy'],
    isolation: row.isolation as Group['isolation'],
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
  };
}

function toMember(row: Selectable<GroupMembersTable>): GroupMember {
  return { ...row, role: row.role as GroupMember['role'], joinedAt: Number(row.joinedAt) };
}
