import { sql } from 'kysely';
import type { Db } from '../projections/database.js';
import type { Placement, TokenRow } from './tokens.js';

/** The pre-queue as every pre-queued token sees it: the draws so far and the opening. */
export interface PrequeueState {
  /** Openings drawn so far: a change means pre-queued tokens were just placed. */
  readonly openings: number;
  readonly opensAt: string | null;
}

/**
 * What the waiting room needs each round: the placement (admitted count and the queue
 * numbers nobody holds), which places every waiting token, and the rows of the few
 * tokens it asks about (streams just opened, pre-queued ones, passes it watches).
 */
export async function waitingRoomSnapshot(
  db: Db,
  tokenIds: readonly string[],
): Promise<{ placement: Placement; prequeue: PrequeueState; rows: TokenRow[] }> {
  const { rows } = await sql<
    {
      admitted_count: string;
      holes: string[] | null;
      openings: number;
      line_opens_at: Date | null;
    } & Partial<TokenRow>
  >`
    SELECT s.admitted_count, s.openings, s.opens_at AS line_opens_at,
           (SELECT array_agg(number ORDER BY number) FROM queue_holes) AS holes,
           t.token_id, t.user_id, t.status, t.queue_number, t.issued_at, t.updated_at,
           t.expires_at, t.expired_reason, coalesce(d.opened_at, s.opens_at) AS opens_at
    FROM queue_stats s
    LEFT JOIN tokens t ON t.token_id = ANY(${[...tokenIds]}::text[])
    LEFT JOIN queue_draws d ON d.round = t.draw_round
    WHERE s.id = 1`.execute(db);
  const first = rows[0];
  return {
    placement: {
      admitted: Number(first?.admitted_count ?? 0),
      holes: (first?.holes ?? []).map(Number),
    },
    prequeue: {
      openings: Number(first?.openings ?? 0),
      opensAt: first?.line_opens_at ? first.line_opens_at.toISOString() : null,
    },
    rows: rows
      .filter((row) => row.token_id != null)
      .map((row) => ({
        ...(row as TokenRow),
        queue_number: row.queue_number == null ? null : Number(row.queue_number),
      })),
  };
}
