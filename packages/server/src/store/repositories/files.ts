import type { Kysely } from 'kysely';
import type { FileRepository, StoredFile } from '../../core/files/model.js';
import { compiledOnce } from '../compiled.js';
import type { Tables } from '../tables.js';

export class SqlFileRepository implements FileRepository {
  constructor(private readonly db: Kysely<Tables>) {}

  async insertMany(files: StoredFile[]): Promise<void> {
    if (files.length) await this.db.insertInto('files').values(files).execute();
  }

  async findById(id: string): Promise<StoredFile | undefined> {
    return this.db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Read for every file served. */
  private readonly byPath = compiledOnce(() =>
    this.db.selectFrom('files').selectAll().where('path', '=', '').compile(),
  );

  async findByPath(path: string): Promise<StoredFile | undefined> {
    const [row] = (await this.db.executeQuery<StoredFile>(this.byPath([path]))).rows;
    return row;
  }

  async findManyByIds(ids: readonly string[]): Promise<StoredFile[]> {
    if (!ids.length) return [];
    return this.db.selectFrom('files').selectAll().where('id', 'in', ids).execute();
  }

  /** Read for every file served to someone other than its owner. */
  private readonly referencedForReader = compiledOnce(() =>
    this.db
      .selectFrom('messageFiles')
      .innerJoin('conversations', 'conversations.id', 'messageFiles.conversationId')
      // The conversation's owner, or a member of its group (a room).
      .leftJoin('groupMembers', (join) =>
        join.onRef('groupMembers.groupId', '=', 'conversations.groupId').on('groupMembers.userId', '=', ''),
      )
      .select('messageFiles.fileId')
      .where('messageFiles.fileId', '=', '')
      .where((eb) => eb.or([eb('conversations.ownerId', '=', ''), eb('groupMembers.userId', 'is not', null)]))
      .limit(1)
      .compile(),
  );

  async isReferencedForReader(fileId: string, userId: string): Promise<boolean> {
    const { rows } = await this.db.executeQuery(this.referencedForReader([userId, fileId, userId, 1]));
    return rows.length > 0;
  }

  async unreferenced(ids: readonly string[]): Promise<StoredFile[]> {
    if (!ids.length) return [];
    return this.db
      .selectFrom('files')
      .selectAll()
      .where('id', 'in', ids)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('messageFiles').select('messageFiles.fileId').whereRef('messageFiles.fileId', '=', 'files.id'),
          ),
        ),
      )
      .execute();
  }

  async deleteMany(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.db.deleteFrom('files').where('id', 'in', ids).execute();
  }
}
