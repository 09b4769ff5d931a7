import { sql, type Transaction } from 'kysely';
import type pg from 'pg';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import {
  START,
  comparePositions,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../events/store/port.js';
import type { Database, Db } from './database.js';
import { applyRecorded, type Projection } from './projection.js';
import { replay } from './replay.js';
import { swapChannel } from './runner.js';

export interface RebuildProgress {
  readonly projection: string;
  readonly applied: number;
  /**
   * Events of the projection's types to replay, if known: counted when the rebuild
   * started, and never less than `applied` (writes go on during a rebuild).
   */
  readonly total: number | undefined;
  readonly eventsPerSecond: number;
  readonly phase: 'replaying' | 'swapping' | 'done';
}

export interface RebuildDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly databaseUrl: string;
  /**
   * Counts the log's events of each of these types (for progress), in one read for all
   * the projections being rebuilt; optional.
   */
  readonly countEvents?: (eventTypes: readonly string[]) => Promise<ReadonlyMap<string, number>>;
  /**
   * Refreshes the log's planner statistics before the replay reads all of it; optional.
   * Without them (a log just loaded in bulk) PostgreSQL plans each batch's read as a sort
   * of every event left, and the replay slows to a crawl as the log grows.
   */
  readonly analyzeLog?: () => Promise<void>;
  /** Start, progress (at most every 10 s), end and failure of each rebuild. */
  readonly log?: { info(message: string, fields?: Record<string, unknown>): void };
}

const batchSize = 2000;

/** The side schema a rebuild builds in; a fixed name so an interrupted rebuild resumes. */
export const rebuildSchema = (projection: Projection) =>
  `rebuild_${projection.name.replace(/[^a-z0-9]/g, '_')}`;

/**
 * Holds the rebuild lock of each named projection (a session lock on a pooled connection
 * of its own), so two processes (the API's and the CLI's, or two API processes) never
 * build the same side tables at once. Undefined, holding nothing, when another session
 * holds one of them.
 */
export async function lockRebuilds(
  pool: pg.Pool,
  names: readonly string[],
): Promise<{ release(): Promise<void> } | undefined> {
  const client = await pool.connect();
  // A connection whose unlock failed is dropped, which ends its locks anyway.
  const release = async () =>
    client.release(
      await client.query('SELECT pg_advisory_unlock_all()').then(
        () => undefined,
        (error: Error) => error,
      ),
    );
  try {
    const { rows } = await client.query<{ locked: boolean[] }>(
      `SELECT array_agg(pg_try_advisory_lock($1, hashtext(name))) AS locked
       FROM unnest($2::text[]) AS name`,
      [advisoryLocks.projectionRebuild, names],
    );
    if (rows[0]!.locked.every(Boolean)) return { release };
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
  await release();
  return undefined;
}

/** Rebuilds one projection beside the live one and swaps it in (see rebuildProjections). */
export async function rebuildProjection(
  deps: RebuildDeps,
  projection: Projection,
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<RebuildProgress> {
  const [done] = await rebuildProjections(deps, [projection], onProgress);
  return done!;
}

/**
 * Rebuilds projections beside the live ones and swaps each in, while the API keeps
 * serving: one replay reads the log once for all of them into their side schemas up to
 * the head, then, per projection, one transaction locks the live tables (queries and
 * the runner wait a moment, never see a half-built model), applies what the live runner
 * applied meanwhile, and exchanges the tables. The live checkpoint stays valid: the new
 * tables are at exactly that position.
 */
export async function rebuildProjections(
  deps: RebuildDeps,
  projections: readonly Projection[],
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<RebuildProgress[]> {
  const started = Date.now();
  await deps.analyzeLog?.();
  // Counted while the replay runs (for progress only): the replay does not wait for it.
  const totals = new Map<string, number>();
  const counting = (async () => {
    const byType = await deps.countEvents?.([...new Set(projections.flatMap((p) => p.handles))]);
    if (!byType) return;
    for (const projection of projections)
      totals.set(
        projection.name,
        projection.handles.reduce((sum, type) => sum + (byType.get(type) ?? 0), 0),
      );
  })();
  // Awaited after the replay; a failed count must not go unhandled if the replay fails first.
  counting.catch(() => undefined);
  const report = (projection: Projection, applied: number, phase: RebuildProgress['phase']) => {
    const counted = totals.get(projection.name);
    const progress = {
      projection: projection.name,
      applied,
      total: counted === undefined ? undefined : Math.max(counted, applied),
      eventsPerSecond: Math.round(applied / Math.max((Date.now() - started) / 1000, 0.001)),
      phase,
    };
    onProgress(progress);
    return progress;
  };
  const targets = projections.map((projection) => ({
    projection,
    schema: rebuildSchema(projection),
  }));
  // Most of the work, outside any lock.
  const replayed = await replay(deps, targets, {
    onBatch: (applied) => {
      for (const projection of projections)
        report(projection, applied.get(projection.name) ?? 0, 'replaying');
    },
    finish: true,
  });
  await counting;
  const done: RebuildProgress[] = [];
  for (const projection of projections) {
    const { position, applied } = replayed.targets.get(projection.name)!;
    report(projection, applied, 'swapping');
    const caughtUp = await swapIn(deps, projection, position);
    done.push(report(projection, applied + caughtUp, 'done'));
  }
  return done;
}

/**
 * In one transaction: lock the live tables, apply to the rebuilt ones what the live
 * runner applied after `replayedTo`, exchange the tables. Returns the events caught up.
 */
async function swapIn(deps: RebuildDeps, projection: Projection, replayedTo: Position) {
  const schema = rebuildSchema(projection);
  const retired = `${schema}_old`;
  let caughtUp = 0;
  await deps.db.transaction().execute(async (trx) => {
    for (const table of projection.tables)
      await sql.raw(`LOCK TABLE public."${table}" IN ACCESS EXCLUSIVE MODE`).execute(trx);
    const checkpoint = await trx
      .selectFrom('projection_checkpoints')
      .select(['commit_position', 'prepare_position'])
      .where('name', '=', projection.name)
      .executeTakeFirst();
    const live: Position = checkpoint
      ? { commit: BigInt(checkpoint.commit_position), prepare: BigInt(checkpoint.prepare_position) }
      : START;
    const pending = await readCatchUp(deps.store, projection, replayedTo, live);
    await sql.raw(`SET LOCAL search_path TO "${schema}"`).execute(trx);
    await applyRecorded(projection, pending, trx);
    caughtUp = pending.length;
    await sql.raw(`SET LOCAL search_path TO public`).execute(trx);
    await exchangeTables(trx, projection, schema, retired);
  });
  await sql.raw(`DROP SCHEMA IF EXISTS "${retired}" CASCADE`).execute(deps.db);
  return caughtUp;
}

/**
 * What the live runner applied after the replay, up to the live checkpoint (a few
 * batches at most). Read everything before the swap's first write: once its transaction
 * writes it holds a transaction id, and a gap-safe read would then wait for that very
 * transaction to end.
 */
async function readCatchUp(
  store: EventStore,
  projection: Projection,
  replayedTo: Position,
  live: Position,
): Promise<RecordedEvent[]> {
  const pending: RecordedEvent[] = [];
  for (let from = replayedTo; comparePositions(from, live) < 0;) {
    // Bounded by the live checkpoint (committed, so nothing to wait for): an unbounded
    // read would wait for writers queued behind this transaction's table locks, until
    // idle_in_transaction_session_timeout killed it.
    const read = await store.readAll({
      fromPosition: from,
      toPosition: live,
      filter: { eventTypes: projection.handles },
      maxCount: batchSize,
    });
    const events = read.filter((event) => comparePositions(event.position, live) <= 0);
    pending.push(...events);
    if (events.length < read.length || read.length < batchSize) break;
    from = events[events.length - 1]!.position;
  }
  return pending;
}

/** Moves the live tables out to `retired` and the rebuilt ones in, inside the locking transaction. */
async function exchangeTables(
  trx: Transaction<Database>,
  projection: Projection,
  schema: string,
  retired: string,
): Promise<void> {
  await sql.raw(`DROP SCHEMA IF EXISTS "${retired}" CASCADE`).execute(trx);
  await sql.raw(`CREATE SCHEMA "${retired}"`).execute(trx);
  for (const table of projection.tables) {
    await sql.raw(`ALTER TABLE public."${table}" SET SCHEMA "${retired}"`).execute(trx);
    await sql.raw(`ALTER TABLE "${schema}"."${table}" SET SCHEMA public`).execute(trx);
  }
  await sql.raw(`DROP SCHEMA "${schema}" CASCADE`).execute(trx);
  // Delivered at commit to the projection leader, whichever process it is: its caches
  // were filled from the tables just retired.
  await sql`SELECT pg_notify(${swapChannel}, ${projection.name})`.execute(trx);
}

/** For the PostgreSQL store: the count for progress and the statistics a replay reads by. */
export function postgresLog(db: Db): Required<Pick<RebuildDeps, 'countEvents' | 'analyzeLog'>> {
  return {
    countEvents: async (eventTypes) => {
      // One scan of the log for every type (a count per projection was one scan each).
      const { rows } = await sql<{ event_type: string; count: number }>`
        SELECT event_type, count(*)::int AS count FROM es_events
        WHERE event_type = ANY(${[...eventTypes]}::text[]) GROUP BY event_type`.execute(db);
      return new Map(rows.map((row) => [row.event_type, row.count]));
    },
    analyzeLog: async () => {
      await sql`ANALYZE es_events`.execute(db);
    },
  };
}
