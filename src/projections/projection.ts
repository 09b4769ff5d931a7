import { sql, type Transaction } from 'kysely';
import type { RecordedEvent } from '../events/store/port.js';
import type { Database, Db } from './database.js';

/**
 * A projection is data: the event types it reads, how to create its tables, and how to
 * apply a batch inside the transaction that also moves its checkpoint. Applying an
 * event twice changes nothing (rows carry the stream revision they reflect, or the
 * change is guarded by the state it leaves).
 */
export interface Projection {
  readonly name: string;
  /** Bump to rebuild from the start of the log on the next run. */
  readonly version: number;
  readonly handles: readonly string[];
  readonly tables: readonly string[];
  init(db: Db): Promise<void>;
  apply(events: readonly RecordedEvent[], trx: Transaction<Database>): Promise<void>;
}

/** Runs `statements` in order; CREATE ... IF NOT EXISTS keeps init re-runnable. */
export async function runStatements(db: Db, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
