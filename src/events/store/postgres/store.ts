import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Subject, type Observable } from 'rxjs';
import { observeBatches } from '../live-batches.js';
import { sleep } from '../../../infrastructure/sleep.js';
import {
  START,
  WrongExpectedVersionError,
  comparePositions,
  formatPosition,
  parsePosition,
  type AppendResult,
  type CountEventsOptions,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type LogBatch,
  type LogFilter,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAllOptions,
  type SubscribeOptions,
} from '../port.js';
import { migrateEventStore } from './schema.js';

const notifyChannel = 'es_events';
/** LISTEN clients already given back to the pool (a second release throws). */
const released = new WeakSet<pg.PoolClient>();
const uniqueViolation = '23505';
const maxPrepare = 2n ** 63n - 1n;
/** idle_in_transaction_session_timeout bounds how long an open transaction can hide the head. */
const readAllWaitMs = 30_000;

interface EventRow {
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

const eventColumns = (alias: string) =>
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

function toRecordedEvent(row: EventRow): RecordedEvent {
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

export interface PostgresEventStoreOptions {
  /** Fallback poll when no notification arrives (another process's NOTIFY lost, etc.). */
  readonly pollIntervalMs?: number;
  /** Events per query when readAll reads more than this (tests use a small page). */
  readonly readPageSize?: number;
}

export class PostgresEventStore implements EventStore {
  /**
   * Committed appends: this process's with their event types, and other processes'
   * (through LISTEN) with the position only.
   */
  private readonly committed = new Subject<{ position: Position; types?: readonly string[] }>();
  private listener: Promise<pg.PoolClient> | undefined;
  private notifyPending: Position | undefined;
  private notifying = false;
  private closed = false;
  /** Aborted on close, so every waiting subscriber ends at once. */
  private readonly closing = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly readPageSize: number;

  private constructor(
    private readonly pool: pg.Pool,
    options: PostgresEventStoreOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.readPageSize = Math.max(1, options.readPageSize ?? 1000);
  }

  static async create(
    pool: pg.Pool,
    options: PostgresEventStoreOptions = {},
  ): Promise<PostgresEventStore> {
    await migrateEventStore(pool);
    return new PostgresEventStore(pool, options);
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    const expected = options.expectedRevision ?? 'any';
    const payload = JSON.stringify(
      events.map((event) => ({
        id: event.id ?? randomUUID(),
        type: event.type,
        data: event.data,
        metadata: event.metadata ?? {},
      })),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.pool.query<{
          outcome: string;
          revision: string;
          transaction_id: string | null;
          seq: string | null;
        }>({
          name: 'es_append',
          text: 'SELECT * FROM es_append($1, $2, $3)',
          values: [streamName, String(expected), payload],
        });
        const row = rows[0]!;
        if (row.outcome === 'wrong_expected_revision') {
          const actual = BigInt(row.revision);
          throw new WrongExpectedVersionError(
            streamName,
            expected,
            actual < 0n ? 'no_stream' : actual,
          );
        }
        const position = { commit: BigInt(row.transaction_id!), prepare: BigInt(row.seq!) };
        if (row.outcome === 'ok')
          this.announce(
            position,
            events.map((event) => event.type),
          );
        return { nextExpectedRevision: BigInt(row.revision), position };
      } catch (error) {
        // Two concurrent appends of the same event id: the loser retries once and then
        // finds the winner's event, returning its result (idempotent retry).
        const isDuplicateId =
          error instanceof pg.DatabaseError &&
          error.code === uniqueViolation &&
          error.constraint === 'es_events_event_id_key';
        if (isDuplicateId && attempt === 0) continue;
        throw error;
      }
    }
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? BigInt(Number.MAX_SAFE_INTEGER) : 0n);
    const { rows } = await this.pool.query<EventRow>({
      name: backwards ? 'es_read_stream_backwards' : 'es_read_stream',
      text: `SELECT ${eventColumns('')} FROM es_events
             WHERE stream_name = $1 AND stream_revision ${backwards ? '<=' : '>='} $2
             ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
      values: [streamName, String(from), options.maxCount ?? null],
    });
    return rows.map(toRecordedEvent);
  }

  /**
   * Includes every event committed before the call: if an older transaction is still
   * open, it waits (briefly, bounded) for it to end rather than return a log with a hole.
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const maxCount = options.maxCount ?? 1000;
    const { toPosition } = options;
    const head = toPosition ?? (await this.headPosition());
    const deadline = Date.now() + readAllWaitMs;
    const events: RecordedEvent[] = [];
    let from = options.fromPosition ?? START;
    for (let delay = 1; events.length < maxCount;) {
      const limit = Math.min(this.readPageSize, maxCount - events.length);
      const page = await this.readSafeBatch(from, options.filter, limit);
      const wanted = toPosition
        ? page.events.filter((event) => comparePositions(event.position, toPosition) <= 0)
        : page.events;
      events.push(...wanted);
      if (wanted.length < page.events.length) break;
      if (page.events.length > 0) from = page.events[page.events.length - 1]!.position;
      if (page.events.length === limit) continue;
      if (page.horizon > head.commit || Date.now() > deadline) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
    return events;
  }

  /**
   * Reads events after `from` whose transactions are older than the snapshot's xmin: all
   * of those have committed or aborted, so no event can later appear before them.
   * `horizon` is that xmin; every event of a transaction below it is now visible.
   */
  private async readSafeBatch(
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
    const { rows } = await this.pool.query<EventRow & { horizon: string }>(
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

  async *streamAll(options: StreamAllOptions = {}): AsyncIterable<LogBatch> {
    const batchSize = options.batchSize ?? 500;
    const signal = options.signal;
    let checkpoint = options.fromPosition ?? START;
    let delivered = checkpoint;
    let newest: Position = START;
    let wake: (() => void) | undefined;
    const wanted = options.filter?.eventTypes;
    const wakeups = this.committed.subscribe(({ position, types }) => {
      // An append of none of the wanted types changes nothing for this reader.
      if (wanted && types && !types.some((type) => wanted.includes(type))) return;
      if (comparePositions(position, newest) > 0) newest = position;
      wake?.();
    });
    await this.listen().catch(() => undefined);
    try {
      let retryDelay = 1;
      while (!signal?.aborted && !this.closed) {
        const { events, horizon } = await this.readSafeBatch(checkpoint, options.filter, batchSize);
        if (events.length > 0) checkpoint = events[events.length - 1]!.position;
        if (events.length < batchSize) {
          // Every transaction below the horizon has ended and its matching events were
          // just read, so the consumer has seen the whole log up to there.
          const safe = { commit: horizon - 1n, prepare: maxPrepare };
          if (comparePositions(safe, checkpoint) > 0) checkpoint = safe;
        }
        if (events.length > 0 || comparePositions(checkpoint, delivered) > 0) {
          delivered = checkpoint;
          yield { events, checkpoint };
        }
        if (events.length === batchSize) continue;
        // A committed append we were told about sits behind a still-open older
        // transaction: retry soon rather than at the next poll.
        const waitMs = newest.commit >= horizon ? retryDelay : this.pollIntervalMs;
        retryDelay = newest.commit >= horizon ? Math.min(retryDelay * 2, 50) : 1;
        // Reconnect LISTEN after a dropped connection, so other processes' appends wake us again.
        if (!this.listener && !this.closed) void this.listen().catch(() => undefined);
        const waitOver = new AbortController();
        wake = () => waitOver.abort();
        await sleep(
          waitMs,
          AbortSignal.any([waitOver.signal, this.closing.signal, ...(signal ? [signal] : [])]),
        );
        wake = undefined;
      }
    } finally {
      wakeups.unsubscribe();
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    return observeBatches((signal) => this.streamAll({ ...options, signal }));
  }

  async headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position> {
    const { rows } = await this.pool.query<{ transaction_id: string; seq: string }>(
      `SELECT e.transaction_id::text AS transaction_id, e.seq FROM es_events e
       ${filter?.eventTypes ? 'WHERE e.event_type = ANY($1::text[])' : ''}
       ORDER BY e.transaction_id DESC, e.seq DESC LIMIT 1`,
      filter?.eventTypes ? [filter.eventTypes] : [],
    );
    const row = rows[0];
    return row ? { commit: BigInt(row.transaction_id), prepare: BigInt(row.seq) } : START;
  }

  /** One index range scan over (transaction_id, seq), stopped at `limit`; no event is read out. */
  async countEvents(options: CountEventsOptions): Promise<number> {
    const from = options.fromPosition ?? START;
    const values: unknown[] = [
      String(from.commit < 0n ? 0n : from.commit),
      String(from.prepare),
      options.limit,
    ];
    const types = options.filter?.eventTypes;
    if (types) values.push(types);
    const { rows } = await this.pool.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM (
         SELECT 1 FROM es_events e
         WHERE (e.transaction_id, e.seq) > ($1::text::xid8, $2::bigint)
         ${types ? 'AND e.event_type = ANY($4::text[])' : ''}
         LIMIT $3) ahead`,
      values,
    );
    return rows[0]!.count;
  }

  /** Wakes local subscribers now and other processes through one coalesced NOTIFY. */
  private announce(position: Position, types: readonly string[]): void {
    this.committed.next({ position, types });
    if (!this.notifyPending || comparePositions(position, this.notifyPending) > 0)
      this.notifyPending = position;
    if (this.notifying) return;
    this.notifying = true;
    void (async () => {
      while (this.notifyPending && !this.closed) {
        const pending = this.notifyPending;
        this.notifyPending = undefined;
        await this.pool
          .query('SELECT pg_notify($1, $2)', [notifyChannel, formatPosition(pending)])
          // A lost NOTIFY only delays other processes until their next poll.
          .catch(() => undefined);
      }
      this.notifying = false;
    })();
  }

  private listen(): Promise<pg.PoolClient> {
    this.listener ??= (async () => {
      const client = await this.pool.connect();
      client.on('notification', (message) => {
        const position = message.payload ? parsePosition(message.payload) : undefined;
        if (position) this.committed.next({ position });
      });
      client.on('error', (error) => {
        // The poll fallback keeps subscribers going until a reader reconnects (each
        // subscriber's next wait does). The dead client goes back to be discarded:
        // kept, it would leak a pool slot per dropped connection and block pool.end().
        if (this.listener === listening) this.listener = undefined;
        // 'error' can fire more than once, or after close() released it: release once.
        if (!released.has(client)) {
          released.add(client);
          client.release(error);
        }
      });
      await client.query(`LISTEN ${notifyChannel}`);
      return client;
    })();
    const listening = this.listener;
    // A failed LISTEN (database down) is retried by the next reader rather than cached.
    listening.catch(() => {
      if (this.listener === listening) this.listener = undefined;
    });
    return listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    this.committed.complete();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      // A listener that never connected has nothing to release.
      const client = await listener.catch(() => undefined);
      if (client && !released.has(client)) {
        released.add(client);
        client.release(true);
      }
    }
  }
}
