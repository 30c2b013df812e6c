import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('bot_id', 'text')
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('reply_policy', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text')
    .addColumn('isolation', 'text', (c) => c.notNull())
    .addColumn('invite_code_hash', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('groups_invite').on('groups').column('invite_code_hash').unique().execute();

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('group_members_user').on('group_members').columns(['user_id', 'group_id']).execute();

  // An external bot's deliveries are signed with a secret of its own, sealed like channel keys.
  await db.schema.alterTable('bots').addColumn('sealed_signing_secret', 'text').execute();
  // How many deltas an external bot has streamed into a message: the next delta's seq.
  await db.schema
    .alterTable('messages')
    .addColumn('delta_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').dropColumn('delta_count').execute();
  await db.schema.alterTable('bots').dropColumn('sealed_signing_secret').execute();
  await db.schema.dropTable('group_members').execute();
  await db.schema.dropTable('groups').execute();
}
