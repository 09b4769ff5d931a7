import { sql, type Transaction } from 'kysely';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { START, formatPosition, type Position } from '../events/store/port.js';
import type { Database, Db } from './database.js';
import { runStatements, type Projection } from './projection.js';

export class LeadershipLostError extends Error {
  override readonly name = 'LeadershipLostError';
  constructor(projection: string) {
    super(`the checkpoint of ${projection} is already past this batch: another process leads`);
  }
}

/** Every checkpoint saved is announced here ("name commit/prepare"), on commit. */
export const appliedChannel = 'projection_applied';

/**
 * Moves checkpoints forward to `checkpoint`, never backwards: an old leader that lost its
 * lock without noticing cannot overwrite a newer leader's progress. One statement for any
 * number of projections; returns the names whose row was already ahead (none saved then
 * matters: the caller rolls back). Standbys hear of each save (cache-follower.ts) through a
 * NOTIFY ("name commit/prepare") sent by the same statement, delivered on commit.
 */
export async function saveCheckpoints(
  executor: Db,
  saves: readonly { readonly name: string; readonly eventsApplied: number }[],
  checkpoint: Position,
): Promise<string[]> {
  if (saves.length === 0) return [];
  const commit = String(checkpoint.commit);
  const prepare = String(checkpoint.prepare);
  const { rows } = await sql<{ name: string }>`
    UPDATE projection_checkpoints c
    SET commit_position = ${commit}, prepare_position = ${prepare},
        events_applied = c.events_applied + v.applied, updated_at = now()
    FROM unnest(${saves.map((save) => save.name)}::text[], ${saves.map((save) => save.eventsApplied)}::bigint[])
         AS v(name, applied)
    WHERE c.name = v.name
      AND (c.commit_position::numeric, c.prepare_position::numeric) <= (${commit}::numeric, ${prepare}::numeric)
    RETURNING c.name, pg_notify(${appliedChannel}, c.name || ' ' || ${formatPosition(checkpoint)}::text) AS notified`.execute(
    executor,
  );
  const saved = new Set(rows.map((row) => row.name));
  return saves.map((save) => save.name).filter((name) => !saved.has(name));
}

export const toPosition = (row: {
  commit_position: string;
  prepare_position: string;
}): Position => ({
  commit: BigInt(row.commit_position),
  prepare: BigInt(row.prepare_position),
});

/**
 * Runs `fn` in a transaction holding the read-model setup lock. Every creation of
 * read-model tables goes through it: two CREATE TABLE IF NOT EXISTS at the same moment
 * collide (23505 on pg_type) when processes start together on an empty database.
 */
export function withSetupLock<T>(
  db: Db,
  fn: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${advisoryLocks.projectionSetup})`.execute(trx);
    return fn(trx);
  });
}

/**
 * Creates the checkpoints table and every projection's tables; a projection whose
 * version changed gets its tables dropped and its checkpoint reset to the log's start.
 */
export async function initProjections(db: Db, projections: readonly Projection[]): Promise<void> {
  await withSetupLock(db, (trx) =>
    runStatements(trx, [
      `CREATE TABLE IF NOT EXISTS projection_checkpoints (
         name text PRIMARY KEY,
         version int NOT NULL,
         commit_position text NOT NULL,
         prepare_position text NOT NULL,
         events_applied bigint NOT NULL DEFAULT 0,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
    ]),
  );
  for (const projection of projections) {
    await withSetupLock(db, async (trx) => {
      const row = await trx
        .selectFrom('projection_checkpoints')
        .selectAll()
        .where('name', '=', projection.name)
        .executeTakeFirst();
      if (row?.version === projection.version) return projection.init(trx);
      // A new version means a new shape: drop its tables and start over from the log.
      for (const table of projection.tables)
        await sql.raw(`DROP TABLE IF EXISTS ${table}`).execute(trx);
      await projection.init(trx);
      const start = {
        version: projection.version,
        commit_position: String(START.commit),
        prepare_position: String(START.prepare),
        events_applied: 0,
      };
      await trx
        .insertInto('projection_checkpoints')
        .values({ name: projection.name, ...start })
        .onConflict((conflict) => conflict.column('name').doUpdateSet(start))
        .execute();
    });
  }
}
