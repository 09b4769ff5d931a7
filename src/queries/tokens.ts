import type { Db, TokenTable } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { LeaderCache } from './leader-cache.js';

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

type TokenRow = Omit<TokenTable, 'admitted_at'>;

/**
 * A waiting token's position is O(1): admission is strictly FIFO, so the tokens admitted
 * so far are exactly queue numbers 1..admitted_count. A pass whose time is up reads as
 * expired even before the admission process records it.
 */
export function toTokenView(row: TokenRow, admittedCount: number, now: Date): TokenView {
  const timedOut = row.status === 'pass' && row.expires_at !== null && row.expires_at <= now;
  const status = timedOut ? 'expired' : row.status;
  return {
    token: row.token_id,
    userId: row.user_id,
    status,
    position: status === 'hold' ? Math.max(1, row.queue_number - admittedCount) : 0,
    createdAt: row.issued_at.toISOString(),
    updatedAt: (timedOut ? row.expires_at! : row.updated_at).toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
  };
}

async function fetchToken(
  db: Db,
  tokenId: string,
): Promise<(TokenRow & { admitted_count: number }) | undefined> {
  return db
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
}

/**
 * Token lookups for every gated request and every waiting user's poll, cached in the
 * projection leader (LeaderCache): a token's row until one of its events is applied, and
 * the admitted count (which places every waiting token) until the next admission.
 */
export function createTokenLookup(deps: { db: Db; runner: ProjectionRunner }) {
  const rows = new LeaderCache<TokenRow & { admitted_count: number }>(
    deps.runner,
    'tokens',
    (event) => [(event.data as { tokenId: string }).tokenId],
  );
  const admitted = new LeaderCache<number>(deps.runner, 'tokens', (event) =>
    event.type === 'TokenAdmitted' ? 'all' : [],
  );
  return async (tokenId: string, now: Date): Promise<TokenView | undefined> => {
    const cached = rows.get(tokenId);
    if (!cached) {
      const fetched = await rows.load(tokenId, () => fetchToken(deps.db, tokenId));
      return fetched ? toTokenView(fetched, fetched.admitted_count, now) : undefined;
    }
    if (cached.status !== 'hold') return toTokenView(cached, 0, now);
    const count =
      admitted.get('count') ??
      (await admitted.load('count', async () => (await queueLength(deps.db)).admitted));
    return toTokenView(cached, count ?? cached.admitted_count, now);
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
