import { sql } from 'kysely';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { START, formatPosition, type Position } from '../events/store/port.js';
import type { Db } from './database.js';
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
 * Moves a checkpoint forward, never backwards: an old leader that lost its lock without
 * noticing cannot overwrite a newer leader's progress. False when the row was ahead.
 * Standbys hear of it (cache-follower.ts) through a NOTIFY sent in the same statement.
 */
export async function saveCheckpoint(
  executor: Db,
  name: string,
  checkpoint: Position,
  eventsApplied: number,
): Promise<boolean> {
  const notice = `${name} ${formatPosition(checkpoint)}`;
  const saved = await executor
    .updateTable('projection_checkpoints')
    .set((eb) => ({
      commit_position: String(checkpoint.commit),
      prepare_position: String(checkpoint.prepare),
      events_applied: eb('events_applied', '+', eventsApplied),
      updated_at: new Date(),
    }))
    .where('name', '=', name)
    .where(
      sql<boolean>`(commit_position::numeric, prepare_position::numeric) <= (${String(checkpoint.commit)}::numeric, ${String(checkpoint.prepare)}::numeric)`,
    )
    .returning(sql<string>`pg_notify(${appliedChannel}, ${notice})`.as('notified'))
    .executeTakeFirst();
  return saved !== undefined;
}

export const toPosition = (row: {
  commit_position: string;
  prepare_position: string;
}): Position => ({
  commit: BigInt(row.commit_position),
  prepare: BigInt(row.prepare_position),
});

/**
 * Creates the checkpoints table and every projection's tables; a projection whose
 * version changed gets its tables dropped and its checkpoint reset to the log's start.
 */
export async function initProjections(db: Db, projections: readonly Projection[]): Promise<void> {
  await runStatements(db, [
    `CREATE TABLE IF NOT EXISTS projection_checkpoints (
       name text PRIMARY KEY,
       version int NOT NULL,
       commit_position text NOT NULL,
       prepare_position text NOT NULL,
       events_applied bigint NOT NULL DEFAULT 0,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
  ]);
  for (const projection of projections) {
    await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${advisoryLocks.projectionSetup})`.execute(trx);
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
