import { sql, type Transaction } from 'kysely';
import { START, type Position } from '../events/store/port.js';
import type { Database, Db } from './database.js';
import { toPosition, withSetupLock } from './checkpoints.js';
import type { Projection } from './projection.js';

/**
 * The bookkeeping of a replay, beside the tables it fills: per projection, the position
 * its tables reflect and the secondary indexes it deferred. UNLOGGED like those tables:
 * a database crash empties both together, and the replay then starts that projection over.
 */
const progressTable = `CREATE UNLOGGED TABLE IF NOT EXISTS replay_progress (
  projection text PRIMARY KEY,
  commit_position text NOT NULL,
  prepare_position text NOT NULL,
  applied bigint NOT NULL,
  deferred_indexes text[] NOT NULL
)`;

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Resumes a target from its stored progress, or starts it over: fresh tables from the
 * projection's own `init`, made UNLOGGED (no WAL while they fill) and stripped of their
 * non-unique indexes, whose definitions are kept to build once at the end (one sort per
 * index instead of one insertion per row). Unique indexes stay: `apply` relies on them.
 */
export async function prepareReplayTarget(
  db: Db,
  target: { projection: Projection; schema: string },
): Promise<{ position: Position; applied: number }> {
  const { projection, schema } = target;
  await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${quoted(schema)}`).execute(db);
  // Rebuilds of other projections in other processes may create it at the same moment.
  await withSetupLock(db, (trx) => sql.raw(progressTable).execute(trx));
  const saved = await sql<{ commit_position: string; prepare_position: string; applied: string }>`
    SELECT commit_position, prepare_position, applied FROM replay_progress
    WHERE projection = ${projection.name}`.execute(db);
  const row = saved.rows[0];
  if (row) return { position: toPosition(row), applied: Number(row.applied) };
  await db.transaction().execute(async (trx) => {
    for (const table of projection.tables)
      await sql.raw(`DROP TABLE IF EXISTS ${quoted(schema)}.${quoted(table)}`).execute(trx);
    await projection.init(trx);
    const indexes = await sql<{ name: string; definition: string }>`
      SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = ${schema} AND t.relname = ANY(${[...projection.tables]}::text[])
        AND NOT x.indisunique`.execute(trx);
    for (const index of indexes.rows)
      await sql.raw(`DROP INDEX ${quoted(schema)}.${quoted(index.name)}`).execute(trx);
    for (const table of projection.tables)
      await sql.raw(`ALTER TABLE ${quoted(schema)}.${quoted(table)} SET UNLOGGED`).execute(trx);
    await sql`
      INSERT INTO replay_progress VALUES (${projection.name}, ${String(START.commit)}, ${String(START.prepare)}, 0,
        ${indexes.rows.map((index) => index.definition)}::text[])`.execute(trx);
  });
  return { position: START, applied: 0 };
}

/** Moves a target's progress with the batch it applied, in that batch's transaction. */
export async function saveReplayProgress(
  trx: Transaction<Database>,
  projection: string,
  position: Position,
  applied: number,
): Promise<void> {
  await sql`
    UPDATE replay_progress SET commit_position = ${String(position.commit)},
      prepare_position = ${String(position.prepare)}, applied = ${applied}
    WHERE projection = ${projection}`.execute(trx);
}

/**
 * Makes a replayed target what `init` would have made: LOGGED (one rewrite of the table,
 * before its secondary indexes exist), then those indexes built. Safe to run again.
 */
export async function finishReplayTarget(
  db: Db,
  target: { projection: Projection; schema: string },
): Promise<void> {
  const { projection, schema } = target;
  const saved = await sql<{ deferred_indexes: string[] }>`
    SELECT deferred_indexes FROM replay_progress WHERE projection = ${projection.name}`.execute(db);
  for (const table of projection.tables)
    await sql.raw(`ALTER TABLE ${quoted(schema)}.${quoted(table)} SET LOGGED`).execute(db);
  for (const definition of saved.rows[0]?.deferred_indexes ?? [])
    await sql.raw(definition.replace(/^CREATE INDEX /, 'CREATE INDEX IF NOT EXISTS ')).execute(db);
  await sql`UPDATE replay_progress SET deferred_indexes = '{}' WHERE projection = ${projection.name}`.execute(
    db,
  );
}
