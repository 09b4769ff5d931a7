import { sql } from 'kysely';
import type { Db, TokenTable } from '../projections/database.js';

export type WaitingRoomRow = Omit<TokenTable, 'admitted_at'>;

/**
 * What the waiting room needs each round, in one statement (one snapshot): the admitted
 * count, which places every waiting token, and the rows of the few tokens it asks about
 * (streams just opened, passes it watches).
 */
export async function waitingRoomSnapshot(
  db: Db,
  tokenIds: readonly string[],
): Promise<{ admitted: number; rows: WaitingRoomRow[] }> {
  const { rows } = await sql<{ admitted_count: string } & Partial<WaitingRoomRow>>`
    SELECT s.admitted_count, t.token_id, t.user_id, t.status, t.queue_number, t.issued_at,
           t.updated_at, t.expires_at
    FROM queue_stats s
    LEFT JOIN tokens t ON t.token_id = ANY(${[...tokenIds]}::text[])
    WHERE s.id = 1`.execute(db);
  return {
    admitted: Number(rows[0]?.admitted_count ?? 0),
    rows: rows
      .filter((row) => row.token_id != null)
      .map((row) => ({ ...(row as WaitingRoomRow), queue_number: Number(row.queue_number) })),
  };
}
