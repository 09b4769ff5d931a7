import { sql, type Transaction } from 'kysely';
import { parseRecorded, type DomainEventType, type ParsedEvent } from '../events/domain-event.js';
import type { RecordedEvent } from '../events/store/port.js';
import type { Database, Db } from './database.js';

/**
 * A projection is data: the event types it reads, how to create its tables, and how to
 * apply a batch inside the transaction that also moves its checkpoint. Applying an
 * event twice changes nothing (rows carry the stream revision they reflect, or the
 * change is guarded by the state it leaves).
 *
 * `T` is the union of the event types it handles: `handles` lists them (a typo does not
 * compile) and `apply` receives those events already parsed against their schemas.
 */
export interface Projection<T extends DomainEventType = DomainEventType> {
  readonly name: string;
  /** Bump to rebuild from the start of the log on the next run. */
  readonly version: number;
  readonly handles: readonly T[];
  readonly tables: readonly string[];
  init(db: Db): Promise<void>;
  // Method syntax on purpose: a list of projections of different event types is a
  // `Projection[]`, and callers hand each only events that `handles` names.
  apply(events: readonly ParsedEvent<T>[], trx: Transaction<Database>): Promise<void>;
}

/** Infers a projection's event types from its `handles` list. */
export function defineProjection<const T extends DomainEventType>(
  projection: Projection<T>,
): Projection<T> {
  return projection;
}

/** True when `projection` reads events of `type` (a recorded event's type is any string). */
export function readsType(projection: Projection, type: string): boolean {
  return (projection.handles as readonly string[]).includes(type);
}

/** True when `projection` handles `event`'s type, narrowing the event to those types. */
export function handledBy<T extends DomainEventType>(
  projection: Projection<T>,
  event: ParsedEvent,
): event is ParsedEvent<T> {
  return readsType(projection, event.type);
}

/** Parses each recorded event once and hands the projection the ones it handles. */
export async function applyParsed<T extends DomainEventType>(
  projection: Projection<T>,
  events: readonly ParsedEvent[],
  trx: Transaction<Database>,
): Promise<void> {
  const mine = events.filter((event) => handledBy(projection, event));
  if (mine.length > 0) await projection.apply(mine, trx);
}

/** For readers of raw store batches (rebuild, verify): parse, then apply. */
export function applyRecorded<T extends DomainEventType>(
  projection: Projection<T>,
  events: readonly RecordedEvent[],
  trx: Transaction<Database>,
): Promise<void> {
  return applyParsed(projection, events.map(parseRecorded), trx);
}

/** Runs `statements` in order; CREATE ... IF NOT EXISTS keeps init re-runnable. */
export async function runStatements(db: Db, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
