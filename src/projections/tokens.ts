import { sql } from 'kysely';
import { defineProjection, runStatements } from './projection.js';

/** Queue tokens with their place in line. Positions stay O(1): see queue_stats. */
export const tokensProjection = defineProjection({
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
    // A token's events come in the order issued, admitted, expired, so applying the batch
    // in those three steps leaves the same rows as applying it event by event.
    const issued: { tokenId: string; userId: string; issuedAt: string }[] = [];
    const admitted: { tokenId: string; admittedAt: string; expiresAt: string }[] = [];
    const expired: { tokenId: string; expiredAt: string }[] = [];
    for (const event of events) {
      switch (event.type) {
        case 'TokenIssued':
          issued.push(event.data);
          break;
        case 'TokenAdmitted':
          admitted.push(event.data);
          break;
        case 'TokenExpired':
          expired.push(event.data);
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
    }
    if (issued.length > 0) {
      // Queue numbers follow log order; admission is strictly FIFO by them, so the tokens
      // admitted so far are exactly numbers 1..admitted_count and a waiting token's
      // position is queue_number - admitted_count.
      await sql`
        WITH incoming AS (
          SELECT v.token_id, v.user_id, v.issued_at, row_number() OVER (ORDER BY v.ord) AS n
          FROM unnest(${issued.map((t) => t.tokenId)}::text[], ${issued.map((t) => t.userId)}::text[], ${issued.map((t) => t.issuedAt)}::timestamptz[])
               WITH ORDINALITY AS v(token_id, user_id, issued_at, ord)
          WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.token_id = v.token_id)
        ), inserted AS (
          INSERT INTO tokens (token_id, user_id, status, queue_number, issued_at, updated_at)
          SELECT token_id, user_id, 'hold', (SELECT issued_count FROM queue_stats WHERE id = 1) + n, issued_at, issued_at FROM incoming
          RETURNING 1
        )
        UPDATE queue_stats SET issued_count = issued_count + (SELECT count(*) FROM inserted) WHERE id = 1`.execute(
        trx,
      );
    }
    if (admitted.length > 0) {
      await sql`
        WITH changed AS (
          UPDATE tokens SET status = 'pass', admitted_at = v.admitted_at, expires_at = v.expires_at, updated_at = v.admitted_at
          FROM unnest(${admitted.map((t) => t.tokenId)}::text[], ${admitted.map((t) => t.admittedAt)}::timestamptz[], ${admitted.map((t) => t.expiresAt)}::timestamptz[])
               AS v(token_id, admitted_at, expires_at)
          WHERE tokens.token_id = v.token_id AND tokens.status = 'hold'
          RETURNING 1
        )
        UPDATE queue_stats SET admitted_count = admitted_count + (SELECT count(*) FROM changed) WHERE id = 1`.execute(
        trx,
      );
    }
    if (expired.length > 0) {
      await sql`
        UPDATE tokens SET status = 'expired', updated_at = v.expired_at
        FROM unnest(${expired.map((t) => t.tokenId)}::text[], ${expired.map((t) => t.expiredAt)}::timestamptz[]) AS v(token_id, expired_at)
        WHERE tokens.token_id = v.token_id AND tokens.status <> 'expired'`.execute(trx);
    }
  },
});
