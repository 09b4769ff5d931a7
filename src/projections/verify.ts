import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { EventStore, Position } from '../events/store/port.js';
import type { Db } from './database.js';
import type { Projection } from './projection.js';
import { replayIntoSchema } from './replay.js';

export interface TableDifference {
  readonly table: string;
  /** Rows only in the live read model, and rows only in the fresh replay. */
  readonly onlyLive: readonly Record<string, unknown>[];
  readonly onlyReplayed: readonly Record<string, unknown>[];
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
  /** As a rebuild's (rebuild.ts): fresh statistics before the whole log is read. */
  analyzeLog?: () => Promise<void>;
}): Promise<TableDifference[]> {
  const head = await deps.store.headPosition();
  if (!(await deps.waitForProjections(head)))
    throw new Error('the live projections did not catch up with the log; try again');
  const scratch = `verify_${randomBytes(4).toString('hex')}`;
  await deps.analyzeLog?.();
  try {
    await replayIntoSchema(deps, deps.projections, scratch, { until: head });
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
