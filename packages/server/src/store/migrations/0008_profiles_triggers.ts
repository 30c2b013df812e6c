import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Applications that speak for their own end users (and their groups) keep them apart by these;
  // `thread_key` finds the one conversation an end user (or group) has with an application.
  await db.schema.alterTable('conversations').addColumn('end_user_id', 'text').execute();
  await db.schema.alterTable('conversations').addColumn('end_group_id', 'text').execute();
  await db.schema.alterTable('conversations').addColumn('thread_key', 'text').execute();
  await db.schema
    .createIndex('conversations_thread')
    .on('conversations')
    .columns(['owner_id', 'thread_key'])
    .unique()
    .execute();
  await db.schema
    .createIndex('conversations_end_user')
    .on('conversations')
    .columns(['owner_id', 'end_user_id'])
    .execute();

  await db.schema
    .createTable('triggers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('creator_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('is_public', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('triggers_creator_name')
    .on('triggers')
    .columns(['creator_id', 'name'])
    .unique()
    .execute();
  await db.schema.createIndex('triggers_public').on('triggers').columns(['is_public', 'id']).execute();

  await db.schema
    .createTable('conversation_triggers')
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('trigger_id', 'text', (c) => c.notNull())
    .addColumn('activated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('conversation_triggers_pk', ['conversation_id', 'trigger_id'])
    .execute();
  await db.schema
    .createIndex('conversation_triggers_trigger')
    .on('conversation_triggers')
    .column('trigger_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('conversation_triggers').execute();
  await db.schema.dropTable('triggers').execute();
  await db.schema.dropIndex('conversations_end_user').execute();
  await db.schema.dropIndex('conversations_thread').execute();
  await db.schema.alterTable('conversations').dropColumn('thread_key').execute();
  await db.schema.alterTable('conversations').dropColumn('end_group_id').execute();
  await db.schema.alterTable('conversations').dropColumn('end_user_id').execute();
}
