import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { DomainEvent, DomainEventType } from '../../src/events/domain-event.js';
import { createPool } from '../../src/infrastructure/pool.js';
import type { RecordedEvent } from '../../src/events/store/port.js';
import { createDb, type Database, type Db } from '../../src/projections/database.js';
import { applyRecorded, type Projection } from '../../src/projections/projection.js';
import { createTestDatabase } from './database.js';

/** An event as a stream holds it: the revision is what idempotent projections compare. */
export interface Given {
  readonly revision: number;
  readonly event: DomainEvent;
}

export const at = (revision: number, event: DomainEvent): Given => ({ revision, event });

/** One projection's tables in a schema of their own, on the run's real PostgreSQL. */
export interface ReadModel {
  /** Applies the events as one batch, in one transaction, the way the runner does. */
  apply(events: readonly Given[]): Promise<void>;
  /** Every row of a table, ordered by its first column. */
  rows(table: keyof Database): Promise<Record<string, unknown>[]>;
}

/**
 * Given events -> expected rows, for one projection. Every `fresh()` read model lives in
 * a new schema, so each test starts from empty tables (and counters).
 */
export async function projectionSpec<T extends DomainEventType>(projection: Projection<T>) {
  const database = await createTestDatabase();
  const pool = createPool(database.url, 2);
  const db: Db = createDb(pool);
  let position = 0n;

  const inSchema = <R>(schema: string, work: (trx: Transaction<Database>) => Promise<R>) =>
    db.transaction().execute(async (trx) => {
      await sql.raw(`SET LOCAL search_path TO "${schema}"`).execute(trx);
      return work(trx);
    });

  return {
    async fresh(): Promise<ReadModel> {
      const schema = `spec_${randomBytes(4).toString('hex')}`;
      await sql.raw(`CREATE SCHEMA "${schema}"`).execute(db);
      await inSchema(schema, (trx) => projection.init(trx));
      return {
        apply: (events) =>
          inSchema(schema, (trx) => {
            const recorded = events.map(({ revision, event }): RecordedEvent => {
              position++;
              return {
                id: randomUUID(),
                streamName: 'spec',
                revision: BigInt(revision),
                position: { commit: position, prepare: position },
                type: event.type,
                data: event.data,
                metadata: {},
                createdAt: new Date(),
              };
            });
            return applyRecorded(projection, recorded, trx);
          }),
        rows: (table) =>
          inSchema(schema, async (trx) => {
            const result = await sql<Record<string, unknown>>`
              SELECT * FROM ${sql.table(table)} ORDER BY 1`.execute(trx);
            return result.rows;
          }),
      };
    },
    async drop(): Promise<void> {
      await db.destroy();
      await database.drop();
    },
  };
}
