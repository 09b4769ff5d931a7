import type pg from 'pg';
import {
  START,
  type CountEventsOptions,
  type LogFilter,
  type Position,
  type RecordedEvent,
} from '../port.js';

/** An es_events row as the store's queries select it. */
export interface EventRow {
  seq: string;
  transaction_id: string;
  event_id: string;
  stream_name: string;
  stream_revision: string;
  event_type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  created_at: Date;
}

export const eventColumns = (alias: string) =>
  [
    'seq',
    'transaction_id::text AS transaction_id',
    'event_id',
    'stream_name',
    'stream_revision',
    'event_type',
    'data',
    'metadata',
    'created_at',
  ]
    .map((column) => alias + column)
    .join(', ');

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    streamName: row.stream_name,
    revision: BigInt(row.stream_revision),
    position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.seq) },
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

/**
 * Reads events after `from` whose transactions are older than the snapshot's xmin: all
 * of those have committed or aborted, so no event can later appear before them.
 * `horizon` is that xmin; every event of a transaction below it is now visible.
 */
export async function readSafeBatch(
  pool: pg.Pool,
  from: Position,
  filter: LogFilter | undefined,
  maxCount: number,
): Promise<{ events: RecordedEvent[]; horizon: bigint }> {
  const conditions = [
    '(e.transaction_id, e.seq) > ($1::text::xid8, $2::bigint)',
    'e.transaction_id < h.xmin',
  ];
  const values: unknown[] = [
    String(from.commit < 0n ? 0n : from.commit),
    String(from.prepare),
    maxCount,
  ];
  if (filter?.eventTypes) {
    values.push(filter.eventTypes);
    conditions.push(`e.event_type = ANY($${values.length}::text[])`);
  }
  if (filter?.streamPrefixes) {
    const prefixes = filter.streamPrefixes.map((prefix) => {
      values.push(prefix);
      return `starts_with(e.stream_name, $${values.length})`;
    });
    conditions.push(`(${prefixes.join(' OR ') || 'false'})`);
  }
  const { rows } = await pool.query<EventRow & { horizon: string }>(
    `SELECT h.xmin::text AS horizon, b.* FROM
       (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) h
       LEFT JOIN LATERAL (
         SELECT ${eventColumns('e.')}
         FROM es_events e WHERE ${conditions.join(' AND ')}
         ORDER BY e.transaction_id, e.seq LIMIT $3
       ) b ON true`,
    values,
  );
  const horizon = BigInt(rows[0]!.horizon);
  const events = rows[0]!.seq === null ? [] : rows.map(toRecordedEvent);
  return { events, horizon };
}

/**
 * The last event's position; with types, the last of those types. Filtered, it takes each
 * type's last event from the (event_type, transaction_id, seq) index: one short backward
 * scan per type, whatever the planner's statistics say. (Written as one ORDER BY over
 * `event_type = ANY(...)`, a table without fresh statistics was planned as a backward scan
 * of the whole log that skipped every event of other types: 13 ms at 20,000 events for the
 * admission loop's check, several times a second during an on-sale.)
 */
export function headPositionSql(filtered: boolean): string {
  if (!filtered)
    return `SELECT e.transaction_id::text AS transaction_id, e.seq FROM es_events e
     ORDER BY e.transaction_id DESC, e.seq DESC LIMIT 1`;
  return `SELECT last.transaction_id::text AS transaction_id, last.seq
     FROM unnest($1::text[]) AS t(event_type)
     CROSS JOIN LATERAL (
       SELECT e.transaction_id, e.seq FROM es_events e WHERE e.event_type = t.event_type
       ORDER BY e.event_type DESC, e.transaction_id DESC, e.seq DESC LIMIT 1
     ) last
     ORDER BY last.transaction_id DESC, last.seq DESC LIMIT 1`;
}

export async function queryHeadPosition(
  pool: pg.Pool,
  filter?: Pick<LogFilter, 'eventTypes'>,
): Promise<Position> {
  const types = filter?.eventTypes;
  const { rows } = await pool.query<{ transaction_id: string; seq: string }>(
    headPositionSql(types !== undefined),
    types ? [types] : [],
  );
  const row = rows[0];
  return row ? { commit: BigInt(row.transaction_id), prepare: BigInt(row.seq) } : START;
}

/** One index range scan over (transaction_id, seq), stopped at `limit`; no event is read out. */
export async function queryCountEvents(
  pool: pg.Pool,
  options: CountEventsOptions,
): Promise<number> {
  const from = options.fromPosition ?? START;
  const values: unknown[] = [
    String(from.commit < 0n ? 0n : from.commit),
    String(from.prepare),
    options.limit,
  ];
  const types = options.filter?.eventTypes;
  if (types) values.push(types);
  const { rows } = await pool.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM (
       SELECT 1 FROM es_events e
       WHERE (e.transaction_id, e.seq) > ($1::text::xid8, $2::bigint)
       ${types ? 'AND e.event_type = ANY($4::text[])' : ''}
       LIMIT $3) ahead`,
    values,
  );
  return rows[0]!.count;
}
