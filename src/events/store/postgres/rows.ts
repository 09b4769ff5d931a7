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

export async function queryHeadPosition(
  pool: pg.Pool,
  filter?: Pick<LogFilter, 'eventTypes'>,
): Promise<Position> {
  const { rows } = await pool.query<{ transaction_id: string; seq: string }>(
    `SELECT e.transaction_id::text AS transaction_id, e.seq FROM es_events e
     ${filter?.eventTypes ? 'WHERE e.event_type = ANY($1::text[])' : ''}
     ORDER BY e.transaction_id DESC, e.seq DESC LIMIT 1`,
    filter?.eventTypes ? [filter.eventTypes] : [],
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
