import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createPool } from '../events/store/postgres/pool.js';
import { START, type EventStore, type Position } from '../events/store/port.js';
import { createDb, type Db } from './database.js';
import type { Projection } from './projection.js';

export interface TableDifference {
  readonly table: string;
  /** Rows only in the live read model, and rows only in the fresh replay. */
  readonly onlyLive: readonly Record<string, unknown>[];
  readonly onlyReplayed: readonly Record<string, unknown>[];
}

/**
 * Replays the log into the projections' tables inside `schema` (created here), up to
 * `until`, in batches. Returns the number of events applied.
 */
export async function replayIntoSchema(
  deps: { store: EventStore; databaseUrl: string },
  projections: readonly Projection[],
  schema: string,
  until?: Position,
  onProgress?: (applied: number) => void,
): Promise<number> {
  const pool = createPool(deps.databaseUrl, 2, schema);
  const db = createDb(pool);
  try {
    await sql.raw(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).execute(db);
    for (const projection of projections) await projection.init(db);
    const types = [...new Set(projections.flatMap((projection) => projection.handles))];
    let from = START;
    let applied = 0;
    for (;;) {
      const events = await deps.store.readAll({
        fromPosition: from,
        filter: { eventTypes: types },
        maxCount: 1000,
      });
      const inRange = until
        ? events.filter(
            (event) =>
              event.position.commit < until.commit ||
              (event.position.commit === until.commit && event.position.prepare <= until.prepare),
          )
        : events;
      if (inRange.length > 0) {
        await db.transaction().execute(async (trx) => {
          for (const projection of projections) {
            const mine = inRange.filter((event) => projection.handles.includes(event.type));
            if (mine.length > 0) await projection.apply(mine, trx);
          }
        });
        applied += inRange.length;
        onProgress?.(applied);
      }
      if (events.length < 1000 || inRange.length < events.length) return applied;
      from = events[events.length - 1]!.position;
    }
  } finally {
    await db.destroy();
  }
}

async function compareTable(
  db: Db,
  table: string,
  live: string,
  replayed: string,
): Promise<TableDifference | undefined> {
  const difference = async (a: string, b: string) =>
    (
      await sql
        .raw<Record<string, unknown>>(
          `SELECT * FROM "${a}"."${table}" EXCEPT ALL SELECT * FROM "${b}"."${table}" LIMIT 100`,
        )
        .execute(db)
    ).rows;
  const onlyLive = await difference(live, replayed);
  const onlyReplayed = await difference(replayed, live);
  return onlyLive.length > 0 || onlyReplayed.length > 0
    ? { table, onlyLive, onlyReplayed }
    : undefined;
}

/**
 * Replays the whole log into a scratch schema and compares every read-model table with
 * the live one, row by row. The live projections are first brought to the replay's end.
 */
export async function verifyReadModels(deps: {
  store: EventStore;
  db: Db;
  databaseUrl: string;
  projections: readonly Projection[];
  waitForProjections: (position: Position) => Promise<boolean>;
  liveSchema?: string;
}): Promise<TableDifference[]> {
  const head = await deps.store.headPosition();
  if (!(await deps.waitForProjections(head)))
    throw new Error('the live projections did not catch up with the log; try again');
  const scratch = `verify_${randomBytes(4).toString('hex')}`;
  try {
    await replayIntoSchema(deps, deps.projections, scratch, head);
    const differences: TableDifference[] = [];
    for (const table of deps.projections.flatMap((projection) => projection.tables)) {
      const difference = await compareTable(deps.db, table, deps.liveSchema ?? 'public', scratch);
      if (difference) differences.push(difference);
    }
    return differences;
  } finally {
    await sql.raw(`DROP SCHEMA IF EXISTS "${scratch}" CASCADE`).execute(deps.db);
  }
}
