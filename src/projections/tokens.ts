import { sql } from 'kysely';
import { parseEvent } from '../events/event.js';
import { tokenKind } from '../events/token.js';
import { runStatements, type Projection } from './projection.js';

/** Queue tokens with their place in line. Positions stay O(1): see queue_stats. */
export const tokensProjection: Projection = {
  name: 'tokens',
  version: 1,
  handles: ['TokenIssued', 'TokenAdmitted', 'TokenExpired'],
  tables: ['tokens', 'queue_stats'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS tokens (
         token_id text PRIMARY KEY,
         user_id text NOT NULL,
         status text NOT NULL,
         queue_number bigint NOT NULL,
         issued_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL,
         admitted_at timestamptz,
         expires_at timestamptz
       )`,
      `CREATE INDEX IF NOT EXISTS tokens_waiting ON tokens (queue_number) WHERE status = 'hold'`,
      `CREATE INDEX IF NOT EXISTS tokens_active ON tokens (expires_at) WHERE status = 'pass'`,
      `CREATE INDEX IF NOT EXISTS tokens_admitted_at ON tokens (admitted_at)`,
      `CREATE TABLE IF NOT EXISTS queue_stats (
         id int PRIMARY KEY,
         issued_count bigint NOT NULL,
         admitted_count bigint NOT NULL
       )`,
      `INSERT INTO queue_stats VALUES (1, 0, 0) ON CONFLICT DO NOTHING`,
    ]),
  apply: async (events, trx) => {
    for (const recorded of events) {
      const event = parseEvent(tokenKind, recorded);
      switch (event.type) {
        case 'TokenIssued': {
          const { tokenId, userId, issuedAt } = event.data;
          // Admission is strictly FIFO by queue_number, so the tokens admitted so far are
          // exactly numbers 1..admitted_count and a waiting token's position is
          // queue_number - admitted_count.
          await sql`
            WITH inserted AS (
              INSERT INTO tokens (token_id, user_id, status, queue_number, issued_at, updated_at)
              SELECT ${tokenId}, ${userId}, 'hold', issued_count + 1, ${issuedAt}, ${issuedAt} FROM queue_stats WHERE id = 1
              ON CONFLICT (token_id) DO NOTHING
              RETURNING 1
            )
            UPDATE queue_stats SET issued_count = issued_count + (SELECT count(*) FROM inserted) WHERE id = 1`.execute(
            trx,
          );
          break;
        }
        case 'TokenAdmitted': {
          const { tokenId, admittedAt, expiresAt } = event.data;
          await sql`
            WITH admitted AS (
              UPDATE tokens SET status = 'pass', admitted_at = ${admittedAt}, expires_at = ${expiresAt}, updated_at = ${admittedAt}
              WHERE token_id = ${tokenId} AND status = 'hold'
              RETURNING 1
            )
            UPDATE queue_stats SET admitted_count = admitted_count + (SELECT count(*) FROM admitted) WHERE id = 1`.execute(
            trx,
          );
          break;
        }
        case 'TokenExpired':
          await trx
            .updateTable('tokens')
            .set({ status: 'expired', updated_at: new Date(event.data.expiredAt) })
            .where('token_id', '=', event.data.tokenId)
            .where('status', '!=', 'expired')
            .execute();
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
    }
  },
};
