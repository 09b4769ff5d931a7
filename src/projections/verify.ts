import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { EventStore, Position } from '../events/store/port.js';
import { toPosition } from './checkpoints.js';
import type { Db } from './database.js';
import type { Projection } from './projection.js';
import { replay } from './replay.js';

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
 * Compares every read-model table with a fresh replay of the log, row by row. The live
 * tables keep moving while the API takes writes, so verify compares a copy of them taken
 * in one snapshot with each projection's checkpoint (a batch and its checkpoint commit
 * together), and replays each projection exactly to that checkpoint. The live
 * projections are first brought to the log's head, so the copy is recent.
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
  const suffix = randomBytes(4).toString('hex');
  const scratch = `verify_${suffix}`;
  const copy = `verify_live_${suffix}`;
  const tables = deps.projections.flatMap((projection) => projection.tables);
  try {
    const checkpoints = await deps.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        // The first statement takes the snapshot every copy below is read in.
        const rows = await trx
          .selectFrom('projection_checkpoints')
          .select(['name', 'commit_position', 'prepare_position'])
          .execute();
        await sql.raw(`CREATE SCHEMA "${copy}"`).execute(trx);
        for (const table of tables)
          await sql
            .raw(
              `CREATE TABLE "${copy}"."${table}" AS TABLE "${deps.liveSchema ?? 'public'}"."${table}"`,
            )
            .execute(trx);
        return new Map(rows.map((row) => [row.name, toPosition(row)]));
      });
    await deps.analyzeLog?.();
    await replay(
      deps,
      deps.projections.map((projection) => ({
        projection,
        schema: scratch,
        until: checkpoints.get(projection.name) ?? head,
      })),
    );
    const differences: TableDifference[] = [];
    for (const table of tables) {
      const difference = await compareTable(deps.db, table, copy, scratch);
      if (difference) differences.push(difference);
    }
    return differences;
  } finally {
    for (const schema of [scratch, copy])
      await sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).execute(deps.db);
  }
}
