import type { Kysely } from 'kysely';
import type { SessionRevocations } from '../../core/accounts/ports.js';
import type { Tables } from '../tables.js';

export class SqlSessionRevocations implements SessionRevocations {
  constructor(private readonly db: Kysely<Tables>) {}

  async revoke(sessionId: string, until: number): Promise<void> {
    // Revocations that have outlived every token they could concern are dropped as new ones come.
    await this.db.deleteFrom('revokedSessions').where('expiresAt', '<', Date.now()).execute();
    await this.db
      .insertInto('revokedSessions')
      .values({ sessionId, expiresAt: until })
      .onConflict((oc) => oc.column('sessionId').doUpdateSet({ expiresAt: until }))
      .execute();
  }

  async isRevoked(sessionId: string, now: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('revokedSessions')
      .select('sessionId')
      .where('sessionId', '=', sessionId)
      .where('expiresAt', '>', now)
      .executeTakeFirst();
    return row !== undefined;
  }
}
