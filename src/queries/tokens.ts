import type { Db } from '../projections/database.js';

export interface TokenView {
  readonly token: string;
  readonly userId: string;
  readonly status: 'hold' | 'pass' | 'expired';
  /** 0 unless waiting; 1 for the token that is admitted next. */
  readonly position: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt?: string;
}

/**
 * A token with its place in line, in O(1): admission is strictly FIFO, so the tokens
 * admitted so far are exactly queue numbers 1..admitted_count. A pass whose time is up
 * reads as expired even before the admission process records it.
 */
export async function findToken(
  db: Db,
  tokenId: string,
  now: Date,
): Promise<TokenView | undefined> {
  const row = await db
    .selectFrom('tokens')
    .innerJoin('queue_stats', (join) => join.on('queue_stats.id', '=', 1))
    .select([
      'tokens.token_id',
      'tokens.user_id',
      'tokens.status',
      'tokens.queue_number',
      'tokens.issued_at',
      'tokens.updated_at',
      'tokens.expires_at',
      'queue_stats.admitted_count',
    ])
    .where('tokens.token_id', '=', tokenId)
    .executeTakeFirst();
  if (!row) return undefined;
  const timedOut = row.status === 'pass' && row.expires_at !== null && row.expires_at <= now;
  const status = timedOut ? 'expired' : row.status;
  return {
    token: row.token_id,
    userId: row.user_id,
    status,
    position: status === 'hold' ? Math.max(1, row.queue_number - row.admitted_count) : 0,
    createdAt: row.issued_at.toISOString(),
    updatedAt: (timedOut ? row.expires_at! : row.updated_at).toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
  };
}

/** Tokens admitted per second over the last few minutes, for waiting-time estimates. */
export async function admissionRate(db: Db, now: Date, windowSeconds = 300): Promise<number> {
  const since = new Date(now.getTime() - windowSeconds * 1000);
  const { admitted } = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<string>().as('admitted'))
    .where('admitted_at', '>', since)
    .executeTakeFirstOrThrow();
  return Number(admitted) / windowSeconds;
}

export async function queueLength(
  db: Db,
): Promise<{ waiting: number; issued: number; admitted: number }> {
  const row = await db.selectFrom('queue_stats').selectAll().where('id', '=', 1).executeTakeFirst();
  const issued = row?.issued_count ?? 0;
  const admitted = row?.admitted_count ?? 0;
  return { waiting: issued - admitted, issued, admitted };
}

export async function activeTokenCount(db: Db, now: Date): Promise<number> {
  const { active } = await db
    .selectFrom('tokens')
    .select((eb) => eb.fn.countAll<string>().as('active'))
    .where('status', '=', 'pass')
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(active);
}
