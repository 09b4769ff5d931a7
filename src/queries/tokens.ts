import { sql } from 'kysely';
import { coalesce } from '../infrastructure/coalesce.js';
import type { Db, TokenTable } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { tokensProjection } from '../projections/tokens.js';
import { LeaderCache } from './leader-cache.js';

export interface TokenView {
  readonly token: string;
  readonly userId: string;
  readonly status: 'hold' | 'pass' | 'expired';
  /** 0 unless waiting; 1 for the token that is admitted next; null while pre-queued. */
  readonly position: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt?: string;
  /** Waiting for the opening's draw (position null until then). */
  readonly prequeue?: true;
  readonly opensAt?: string;
  /** Why an expired token expired. */
  readonly reason?: 'ttl' | 'payment' | 'revoked';
}

type TokenEventType = (typeof tokensProjection.handles)[number];
export type TokenRow = Omit<TokenTable, 'admitted_at' | 'draw_round'> & { opens_at: Date | null };

/** What places every waiting token: admissions so far and the numbers nobody holds. */
export interface Placement {
  readonly admitted: number;
  /** Sorted ascending. */
  readonly holes: readonly number[];
}

export function holesBelow(holes: readonly number[], number: number): number {
  let low = 0;
  let high = holes.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (holes[mid]! < number) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * A waiting token's position is O(1)-ish: admission is strictly in queue-number order, so
 * every number below a waiting token's is admitted, a hole or still waiting:
 * position = queue_number - admitted - holes below it (holes are few: a binary search).
 * A pass whose time is up reads as expired even before the admission process records it.
 */
export function toTokenView(row: TokenRow, placement: Placement, now: Date): TokenView {
  const timedOut = row.status === 'pass' && row.expires_at !== null && row.expires_at <= now;
  const status = timedOut ? 'expired' : row.status;
  const prequeued = status === 'hold' && row.queue_number === null;
  let position: number | null = 0;
  if (prequeued) position = null;
  else if (status === 'hold') {
    const number = row.queue_number!;
    position = Math.max(1, number - placement.admitted - holesBelow(placement.holes, number));
  }
  return {
    token: row.token_id,
    userId: row.user_id,
    status,
    position,
    createdAt: row.issued_at.toISOString(),
    updatedAt: (timedOut ? row.expires_at! : row.updated_at).toISOString(),
    ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
    ...(prequeued
      ? {
          prequeue: true as const,
          ...(row.opens_at ? { opensAt: row.opens_at.toISOString() } : {}),
        }
      : {}),
    ...(status === 'expired' ? { reason: timedOut ? 'ttl' : (row.expired_reason ?? 'ttl') } : {}),
  };
}

async function fetchTokens(db: Db, tokenIds: readonly string[]): Promise<TokenRow[]> {
  return db
    .selectFrom('tokens')
    .innerJoin('queue_stats', (join) => join.on('queue_stats.id', '=', 1))
    .leftJoin('queue_draws', 'queue_draws.round', 'tokens.draw_round')
    .select((eb) => [
      'tokens.token_id',
      'tokens.user_id',
      'tokens.status',
      'tokens.queue_number',
      'tokens.issued_at',
      'tokens.updated_at',
      'tokens.expires_at',
      'tokens.expired_reason',
      // A pre-queued token answers the opening it waits for: the scheduled one, or the
      // time it opened while the draw is pending.
      eb.fn.coalesce('queue_draws.opened_at', 'queue_stats.opens_at').as('opens_at'),
    ])
    .where('tokens.token_id', 'in', tokenIds)
    .execute();
}

/** One batcher per database, shared by every lookup on it (coalesce.ts). */
function perDatabase<In, Out>(
  flush: (db: Db, inputs: readonly In[]) => Promise<readonly Out[]>,
): (db: Db, input: In) => Promise<Out> {
  const batchers = new WeakMap<Db, (input: In) => Promise<Out>>();
  return (db, input) => {
    let batcher = batchers.get(db);
    if (!batcher) {
      batcher = coalesce((inputs: readonly In[]) => flush(db, inputs));
      batchers.set(db, batcher);
    }
    return batcher(input);
  };
}

/**
 * A token row by id. The lookups that arrive while one read is in flight go together in
 * the next: a burst of joins released by one projection batch, or of first lookups,
 * costs one query, not one each.
 */
const fetchToken = perDatabase(async (db, tokenIds: readonly string[]) => {
  const rows = await fetchTokens(db, [...new Set(tokenIds)]);
  const byId = new Map(rows.map((row) => [row.token_id, row]));
  return tokenIds.map((tokenId): TokenRow | undefined => byId.get(tokenId));
});

async function readPlacement(db: Db): Promise<Placement> {
  const row = await db
    .selectFrom('queue_stats')
    .select('admitted_count')
    .select((eb) =>
      eb
        .selectFrom('queue_holes')
        .select(sql<string[]>`coalesce(array_agg(number::text ORDER BY number), '{}')`.as('holes'))
        .as('holes'),
    )
    .where('id', '=', 1)
    .executeTakeFirst();
  return {
    admitted: Number(row?.admitted_count ?? 0),
    holes: (row?.holes ?? []).map(Number),
  };
}

const placementOf = perDatabase(async (db, calls: readonly null[]) => {
  const placement = await readPlacement(db);
  return calls.map(() => placement);
});

/**
 * The admitted count and every hole, ascending, in one statement. After an admission
 * every waiting lookup misses the cached placement at once: one read serves them all.
 */
export const loadPlacement = (db: Db): Promise<Placement> => placementOf(db, null);

/**
 * Token lookups for every gated request and every waiting user's poll, cached in the
 * projection leader (LeaderCache): a token's row until one of its events is applied, and
 * the placement (which places every waiting token) until the next admission, expiry or
 * queue event.
 */
export function createTokenLookup(deps: { db: Db; runner: ProjectionRunner }) {
  const rows = new LeaderCache<TokenRow, TokenEventType>(deps.runner, tokensProjection, (event) =>
    'tokenId' in event.data ? [event.data.tokenId] : 'all',
  );
  const placements = new LeaderCache<Placement, TokenEventType>(
    deps.runner,
    tokensProjection,
    (event) => (event.type === 'TokenIssued' ? [] : 'all'),
  );
  // A cached row keeps its view while the placement it was made with holds and its pass
  // has not timed out: every gated request reads one, and building it is not free.
  const views = new WeakMap<TokenRow, { placement: Placement; view: TokenView }>();
  const viewOf = (row: TokenRow, placement: Placement, now: Date): TokenView => {
    // A timed-out pass reads as expired: built each time (rare), never kept.
    if (row.expires_at && row.expires_at <= now) return toTokenView(row, placement, now);
    const kept = views.get(row);
    if (kept?.placement === placement) return kept.view;
    const view = toTokenView(row, placement, now);
    views.set(row, { placement, view });
    return view;
  };
  const unplaced: Placement = { admitted: 0, holes: [] };
  return async (tokenId: string, now: Date): Promise<TokenView | undefined> => {
    const row = await rows.read(tokenId, () => fetchToken(deps.db, tokenId));
    if (!row) return undefined;
    if (row.status !== 'hold' || row.queue_number === null) return viewOf(row, unplaced, now);
    const placement = await placements.read('placement', () => loadPlacement(deps.db));
    return viewOf(row, placement!, now);
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

/**
 * Numbers issued and admitted, and how many wait: every number issued is admitted, a hole
 * (a token that left while waiting: revoked or expired) or still waiting, so the holes
 * are not counted as waiting (a gauge that counted them would never come back to 0).
 */
export async function queueLength(
  db: Db,
): Promise<{ waiting: number; issued: number; admitted: number }> {
  const row = await db
    .selectFrom('queue_stats')
    .select(['issued_count', 'admitted_count'])
    .select((eb) =>
      eb.selectFrom('queue_holes').select(eb.fn.countAll<string>().as('holes')).as('holes'),
    )
    .where('id', '=', 1)
    .executeTakeFirst();
  const issued = Number(row?.issued_count ?? 0);
  const admitted = Number(row?.admitted_count ?? 0);
  const holes = Number(row?.holes ?? 0);
  return { waiting: Math.max(0, issued - admitted - holes), issued, admitted };
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
