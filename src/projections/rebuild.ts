import { sql, type Transaction } from 'kysely';
import { createPool } from '../infrastructure/pool.js';
import {
  START,
  comparePositions,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../events/store/port.js';
import { createDb, type Database, type Db } from './database.js';
import { parseRecorded } from '../events/domain-event.js';
import { applyParsed, applyRecorded, type Projection } from './projection.js';
import { swapChannel } from './runner.js';

export interface RebuildProgress {
  readonly projection: string;
  readonly applied: number;
  /** Events of the projection's types in the log when the rebuild started, if known. */
  readonly total: number | undefined;
  readonly eventsPerSecond: number;
  readonly phase: 'replaying' | 'swapping' | 'done';
}

export interface RebuildDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly databaseUrl: string;
  /** Counts the events a projection will replay (for progress); optional. */
  readonly countEvents?: (eventTypes: readonly string[]) => Promise<number>;
}

const batchSize = 2000;

/** The side schema a rebuild builds in; a fixed name so an interrupted rebuild resumes. */
export const rebuildSchema = (projection: Projection) =>
  `rebuild_${projection.name.replace(/[^a-z0-9]/g, '_')}`;

/**
 * Replays `projections` from the log into `schema`, resuming from the progress stored
 * there, up to `until` (or the log's end at the time of the last read). Each batch and
 * its progress commit together.
 */
export async function replayIntoSchema(
  deps: Pick<RebuildDeps, 'store' | 'databaseUrl'>,
  projections: readonly Projection[],
  schema: string,
  options: { until?: Position; onBatch?: (applied: number) => void; batchSize?: number } = {},
): Promise<{ position: Position; applied: number }> {
  const size = options.batchSize ?? batchSize;
  const pool = createPool(deps.databaseUrl, 2, schema);
  const db = createDb(pool);
  try {
    await sql.raw(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).execute(db);
    await sql
      .raw(
        `CREATE TABLE IF NOT EXISTS rebuild_progress (id int PRIMARY KEY, commit_position text NOT NULL, prepare_position text NOT NULL, applied bigint NOT NULL)`,
      )
      .execute(db);
    for (const projection of projections) await projection.init(db);
    const saved = await sql<{
      commit_position: string;
      prepare_position: string;
      applied: number;
    }>`SELECT * FROM rebuild_progress WHERE id = 1`.execute(db);
    let position: Position = saved.rows[0]
      ? {
          commit: BigInt(saved.rows[0].commit_position),
          prepare: BigInt(saved.rows[0].prepare_position),
        }
      : START;
    let applied = saved.rows[0]?.applied ?? 0;
    const types = [...new Set(projections.flatMap((projection) => projection.handles))];
    for (;;) {
      const read = await deps.store.readAll({
        fromPosition: position,
        filter: { eventTypes: types },
        maxCount: size,
      });
      const until = options.until;
      const events = until
        ? read.filter((event) => comparePositions(event.position, until) <= 0)
        : read;
      if (events.length > 0) {
        const last = events[events.length - 1]!.position;
        const parsed = events.map(parseRecorded);
        await db.transaction().execute(async (trx) => {
          for (const projection of projections) await applyParsed(projection, parsed, trx);
          await sql`INSERT INTO rebuild_progress VALUES (1, ${String(last.commit)}, ${String(last.prepare)}, ${applied + events.length})
                    ON CONFLICT (id) DO UPDATE SET commit_position = excluded.commit_position, prepare_position = excluded.prepare_position, applied = excluded.applied`.execute(
            trx,
          );
        });
        position = last;
        applied += events.length;
        options.onBatch?.(applied);
      }
      if (read.length < size || events.length < read.length) return { position, applied };
    }
  } finally {
    await db.destroy();
  }
}

/**
 * Rebuilds one projection beside the live one and swaps it in, while the API keeps
 * serving: replay into a side schema up to the head, then in one transaction lock the
 * live tables (queries and the runner wait a moment, never see a half-built model),
 * apply what the live runner applied meanwhile, and exchange the tables. The live
 * checkpoint stays valid: the new tables are at exactly that position.
 */
export async function rebuildProjection(
  deps: RebuildDeps,
  projection: Projection,
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<RebuildProgress> {
  const schema = rebuildSchema(projection);
  const started = Date.now();
  const total = deps.countEvents ? await deps.countEvents(projection.handles) : undefined;
  const report = (applied: number, phase: RebuildProgress['phase']): RebuildProgress => {
    const progress = {
      projection: projection.name,
      applied,
      total,
      eventsPerSecond: Math.round(applied / Math.max((Date.now() - started) / 1000, 0.001)),
      phase,
    };
    onProgress(progress);
    return progress;
  };
  // Most of the work, outside any lock.
  const replayed = await replayIntoSchema(deps, [projection], schema, {
    onBatch: (applied) => report(applied, 'replaying'),
  });
  report(replayed.applied, 'swapping');

  const retired = `${schema}_old`;
  let applied = replayed.applied;
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
    const pending = await readCatchUp(deps.store, projection, replayed.position, live);
    await sql.raw(`SET LOCAL search_path TO "${schema}"`).execute(trx);
    await applyRecorded(projection, pending, trx);
    applied += pending.length;
    await sql.raw(`SET LOCAL search_path TO public`).execute(trx);
    await exchangeTables(trx, projection, schema, retired);
  });
  await sql.raw(`DROP SCHEMA IF EXISTS "${retired}" CASCADE`).execute(deps.db);
  return report(applied, 'done');
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

/** For the PostgreSQL store: how many events of these types the log holds. */
export function countEventsInPostgres(db: Db) {
  return async (eventTypes: readonly string[]) => {
    const { rows } = await sql<{
      count: number;
    }>`SELECT count(*)::int AS count FROM es_events WHERE event_type = ANY(${[...eventTypes]}::text[])`.execute(
      db,
    );
    return rows[0]?.count ?? 0;
  };
}

/** Rebuilds started through the admin API, with their progress for GET /admin/projections. */
export class RebuildJobs {
  private readonly jobs = new Map<string, RebuildProgress & { error?: string }>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: RebuildDeps) {}

  /** False when a rebuild of this projection is already running here. */
  start(projection: Projection): boolean {
    const current = this.jobs.get(projection.name);
    if (current && current.phase !== 'done' && current.error === undefined) return false;
    this.jobs.set(projection.name, {
      projection: projection.name,
      applied: 0,
      total: undefined,
      eventsPerSecond: 0,
      phase: 'replaying',
    });
    const job = rebuildProjection(this.deps, projection, (progress) =>
      this.jobs.set(projection.name, progress),
    ).catch((error: unknown) => {
      const last = this.jobs.get(projection.name)!;
      this.jobs.set(projection.name, {
        ...last,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    this.running.add(job);
    void job.finally(() => this.running.delete(job));
    return true;
  }

  progress(name: string) {
    return this.jobs.get(name);
  }

  /** Waits for running rebuilds (shutdown, tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.running]);
  }
}
