import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { ParsedEvent } from '../events/domain-event.js';
import { queueEventTypes, type QueueEvent } from '../events/queue.js';
import type { TokenEvent } from '../events/token.js';
import type { Database } from './database.js';
import { defineProjection, runStatements } from './projection.js';
import { applyQueueEvent, queueOrderTables } from './queue-order.js';

type TokenEventType = TokenEvent['type'];
const isQueueEvent = (
  event: ParsedEvent<TokenEventType | QueueEvent['type']>,
): event is ParsedEvent<QueueEvent['type']> =>
  (queueEventTypes as readonly string[]).includes(event.type);

/**
 * Queue tokens with their place in line, and the queue's openings and draws (read in log
 * order with the token events). Positions stay O(1)-ish: see queue_stats and queue-order.ts.
 */
export const tokensProjection = defineProjection({
  name: 'tokens',
  version: 2,
  handles: ['TokenIssued', 'TokenAdmitted', 'TokenExpired', ...queueEventTypes],
  tables: ['tokens', 'queue_stats', 'queue_draws', 'queue_holes'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS tokens (
         token_id text PRIMARY KEY,
         user_id text NOT NULL,
         status text NOT NULL,
         queue_number bigint,
         draw_round int,
         issued_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL,
         admitted_at timestamptz,
         expires_at timestamptz,
         expired_reason text
       )`,
      `CREATE INDEX IF NOT EXISTS tokens_waiting ON tokens (queue_number) WHERE status = 'hold'`,
      `CREATE INDEX IF NOT EXISTS tokens_active ON tokens (expires_at) WHERE status = 'pass'`,
      `CREATE INDEX IF NOT EXISTS tokens_admitted_at ON tokens (admitted_at)`,
      `CREATE INDEX IF NOT EXISTS tokens_prequeued ON tokens (draw_round) WHERE queue_number IS NULL`,
      `CREATE TABLE IF NOT EXISTS queue_stats (
         id int PRIMARY KEY,
         issued_count bigint NOT NULL,
         admitted_count bigint NOT NULL,
         openings int NOT NULL DEFAULT 0,
         prequeue_round int NOT NULL DEFAULT 0,
         opens_at timestamptz
       )`,
      `INSERT INTO queue_stats (id, issued_count, admitted_count) VALUES (1, 0, 0) ON CONFLICT DO NOTHING`,
      ...queueOrderTables,
    ]),
  apply: async (events, trx) => {
    // Token events between two queue events apply as one batch; queue events one by one,
    // in their place in the log.
    let segment: ParsedEvent<TokenEventType>[] = [];
    for (const event of events) {
      if (!isQueueEvent(event)) {
        segment.push(event);
        continue;
      }
      await applyTokenEvents(segment, trx);
      segment = [];
      await applyQueueEvent(event, trx);
    }
    await applyTokenEvents(segment, trx);
  },
});

async function applyTokenEvents(
  events: readonly ParsedEvent<TokenEventType>[],
  trx: Transaction<Database>,
): Promise<void> {
  // A token's events come in the order issued, admitted, expired, so applying the batch
  // in those three steps leaves the same rows as applying it event by event.
  const issued: { tokenId: string; userId: string; issuedAt: string }[] = [];
  const admitted: { tokenId: string; admittedAt: string; expiresAt: string }[] = [];
  const expired: { tokenId: string; expiredAt: string; reason: string }[] = [];
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
  if (issued.length > 0) await insertIssued(issued, trx);
  if (admitted.length > 0) await markAdmitted(admitted, trx);
  if (expired.length > 0) await markExpired(expired, trx);
}

async function insertIssued(
  issued: readonly { tokenId: string; userId: string; issuedAt: string }[],
  trx: Transaction<Database>,
): Promise<void> {
  // Queue numbers follow log order, except during a pre-queue: those tokens wait for
  // the draw (draw_round) and take no number yet.
  await sql`
    WITH stats AS (SELECT issued_count, prequeue_round FROM queue_stats WHERE id = 1),
    incoming AS (
      SELECT v.token_id, v.user_id, v.issued_at, row_number() OVER (ORDER BY v.ord) AS n
      FROM unnest(${issued.map((t) => t.tokenId)}::text[], ${issued.map((t) => t.userId)}::text[], ${issued.map((t) => t.issuedAt)}::timestamptz[])
           WITH ORDINALITY AS v(token_id, user_id, issued_at, ord)
      WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.token_id = v.token_id)
    ), inserted AS (
      INSERT INTO tokens (token_id, user_id, status, queue_number, draw_round, issued_at, updated_at)
      SELECT token_id, user_id, 'hold',
        CASE WHEN s.prequeue_round > 0 THEN NULL ELSE s.issued_count + n END,
        NULLIF(s.prequeue_round, 0), issued_at, issued_at
      FROM incoming, stats s
      RETURNING queue_number
    )
    UPDATE queue_stats SET issued_count = issued_count + (SELECT count(queue_number) FROM inserted) WHERE id = 1`.execute(
    trx,
  );
}

async function markAdmitted(
  admitted: readonly { tokenId: string; admittedAt: string; expiresAt: string }[],
  trx: Transaction<Database>,
): Promise<void> {
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

async function markExpired(
  expired: readonly { tokenId: string; expiredAt: string; reason: string }[],
  trx: Transaction<Database>,
): Promise<void> {
  // A token that leaves while waiting leaves a hole at its number (queue-order.ts).
  await sql`
    INSERT INTO queue_holes (number)
    SELECT queue_number FROM tokens
    WHERE token_id = ANY(${expired.map((t) => t.tokenId)}::text[]) AND status = 'hold' AND queue_number IS NOT NULL
    ON CONFLICT DO NOTHING`.execute(trx);
  await sql`
    UPDATE tokens SET status = 'expired', updated_at = v.expired_at, expired_reason = v.reason
    FROM unnest(${expired.map((t) => t.tokenId)}::text[], ${expired.map((t) => t.expiredAt)}::timestamptz[], ${expired.map((t) => t.reason)}::text[]) AS v(token_id, expired_at, reason)
    WHERE tokens.token_id = v.token_id AND tokens.status <> 'expired'`.execute(trx);
}
