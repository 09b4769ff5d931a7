import { sql, type Transaction } from 'kysely';
import type { QueueEvent } from '../events/queue.js';
import type { Database } from './database.js';

/**
 * The queue events' part of the tokens projection: it sees them in log order between the
 * token events, so "issued before or after an opening" is a matter of log order.
 *
 * Queue numbers: a token issued outside a pre-queue takes the next number at once. A
 * token issued during a pre-queue has none (`draw_round` says which opening it waits
 * for). The opening (QueueOpened) reserves a block of numbers right after every number
 * given so far, one per pre-queued token still waiting; later joiners number after the
 * block. The draw (PrequeueDrawn) hands the block out in the drawn order. A number that
 * ends up without a waiting token (revoked while waiting, or a block place whose token
 * left before the draw) becomes a hole; a position subtracts the holes before it.
 */
export const queueOrderTables = [
  `CREATE TABLE IF NOT EXISTS queue_draws (
     round int PRIMARY KEY,
     base bigint NOT NULL,
     reserved int NOT NULL,
     opened_at timestamptz NOT NULL,
     drawn boolean NOT NULL DEFAULT false
   )`,
  `CREATE TABLE IF NOT EXISTS queue_holes (number bigint PRIMARY KEY)`,
];

export async function applyQueueEvent(
  event: QueueEvent,
  trx: Transaction<Database>,
): Promise<void> {
  switch (event.type) {
    case 'QueueConfigured':
    case 'QueueSettingsChanged': {
      const opensAt =
        event.type === 'QueueConfigured' ? event.data.opensAt : event.data.changes.opensAt;
      if (!opensAt) return; // null opens (a QueueOpened follows); absent changes nothing
      await sql`
        UPDATE queue_stats SET opens_at = ${opensAt}::timestamptz,
          prequeue_round = CASE WHEN prequeue_round = 0 THEN openings + 1 ELSE prequeue_round END
        WHERE id = 1`.execute(trx);
      return;
    }
    case 'QueueOpened': {
      const { round, openedAt } = event.data;
      await sql`
        INSERT INTO queue_draws (round, base, reserved, opened_at)
        SELECT ${round}, s.issued_count,
          (SELECT count(*) FROM tokens WHERE draw_round = ${round} AND status = 'hold' AND queue_number IS NULL),
          ${openedAt}::timestamptz
        FROM queue_stats s WHERE s.id = 1 AND s.openings < ${round}
        ON CONFLICT DO NOTHING`.execute(trx);
      await sql`
        UPDATE queue_stats SET issued_count = issued_count + (SELECT reserved FROM queue_draws WHERE round = ${round}),
          openings = ${round}, prequeue_round = 0, opens_at = NULL
        WHERE id = 1 AND openings < ${round}`.execute(trx);
      return;
    }
    case 'PrequeueDrawn':
      await applyDraw(event.data.round, event.data.order, trx);
      return;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

async function applyDraw(
  round: number,
  order: readonly string[],
  trx: Transaction<Database>,
): Promise<void> {
  await sql`
    WITH d AS (SELECT base, reserved FROM queue_draws WHERE round = ${round} AND NOT drawn),
    placed AS (
      SELECT v.token_id, d.base + v.ord AS number
      FROM unnest(${[...order]}::text[]) WITH ORDINALITY AS v(token_id, ord), d
      WHERE v.ord <= d.reserved
    ), updated AS (
      UPDATE tokens t SET queue_number = p.number FROM placed p
      WHERE t.token_id = p.token_id AND t.draw_round = ${round} AND t.status = 'hold' AND t.queue_number IS NULL
      RETURNING t.queue_number
    )
    INSERT INTO queue_holes (number)
    SELECT n FROM d, generate_series(d.base + 1, d.base + d.reserved) AS n
    WHERE n NOT IN (SELECT queue_number FROM updated)
    ON CONFLICT DO NOTHING`.execute(trx);
  // Never strand a token: one the draw missed (it cannot, see queue-opening.ts) goes to the back.
  await sql`
    WITH rest AS (
      SELECT token_id, row_number() OVER (ORDER BY issued_at, token_id) AS n FROM tokens
      WHERE draw_round = ${round} AND status = 'hold' AND queue_number IS NULL
        AND EXISTS (SELECT 1 FROM queue_draws WHERE round = ${round} AND NOT drawn)
    ), moved AS (
      UPDATE tokens t SET queue_number = (SELECT issued_count FROM queue_stats WHERE id = 1) + rest.n
      FROM rest WHERE t.token_id = rest.token_id RETURNING 1
    )
    UPDATE queue_stats SET issued_count = issued_count + (SELECT count(*) FROM moved) WHERE id = 1`.execute(
    trx,
  );
  await sql`UPDATE queue_draws SET drawn = true WHERE round = ${round}`.execute(trx);
}
