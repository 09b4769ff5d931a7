import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Observable } from 'rxjs';
import { observeBatches } from '../live-batches.js';
import { sleep } from '../../../infrastructure/sleep.js';
import {
  START,
  WrongExpectedVersionError,
  comparePositions,
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
  type StreamAppend,
  type SubscribeOptions,
} from '../port.js';
import { AppendNotifier } from './notifier.js';
import {
  eventColumns,
  queryCountEvents,
  queryHeadPosition,
  readSafeBatch,
  toRecordedEvent,
  type EventRow,
} from './rows.js';
import { migrateEventStore } from './schema.js';

const uniqueViolation = '23505';
const maxPrepare = 2n ** 63n - 1n;
/** idle_in_transaction_session_timeout bounds how long an open transaction can hide the head. */
const readAllWaitMs = 30_000;

interface AppendRow {
  outcome: string;
  revision: string;
  transaction_id: string | null;
  seq: string | null;
}

export interface PostgresEventStoreOptions {
  /** Fallback poll when no notification arrives (another process's NOTIFY lost, etc.). */
  readonly pollIntervalMs?: number;
  /** Events per query when readAll reads more than this (tests use a small page). */
  readonly readPageSize?: number;
}

export class PostgresEventStore implements EventStore {
  private readonly notifier: AppendNotifier;
  private closed = false;
  /** Aborted on close, so every waiting subscriber ends at once. */
  private readonly closing = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly readPageSize: number;

  private constructor(
    private readonly pool: pg.Pool,
    options: PostgresEventStoreOptions,
  ) {
    this.notifier = new AppendNotifier(pool);
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
    const payload = appendPayload(events);
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.pool.query<AppendRow>({
          name: 'es_append',
          text: 'SELECT * FROM es_append($1, $2, $3)',
          values: [streamName, String(expected), payload],
        });
        return this.appended(streamName, expected, events, rows[0]!);
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

  async appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    if (appends.some((append) => append.events.length === 0))
      throw new Error('appendToStreams needs at least one event per stream');
    if (new Set(appends.map((append) => append.streamName)).size !== appends.length)
      throw new Error('appendToStreams appends to each stream once');
    if (appends.length === 0) return [];
    const payloads = appends.map((append) => appendPayload(append.events));
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // One statement for every stream, in order: es_append runs once per row of the
      // ordinality scan, so the events take their log positions in the given order.
      const { rows } = await client.query<AppendRow>({
        name: 'es_append_many',
        text: `SELECT r.* FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY
                 AS a(stream_name, expected, events, ord),
               LATERAL es_append(a.stream_name, a.expected, a.events) r ORDER BY a.ord`,
        values: [
          appends.map((append) => append.streamName),
          appends.map((append) => String(append.expectedRevision)),
          payloads,
        ],
      });
      const conflict = rows.findIndex((row) => row.outcome === 'wrong_expected_revision');
      await client.query(conflict >= 0 ? 'ROLLBACK' : 'COMMIT');
      // Announced (or refused, for the conflict) only once the transaction has ended.
      if (conflict >= 0) {
        const { streamName, expectedRevision } = appends[conflict]!;
        this.appended(streamName, expectedRevision, [], rows[conflict]!);
      }
      return rows.map((row, index) => {
        const { streamName, expectedRevision, events } = appends[index]!;
        return this.appended(streamName, expectedRevision, events, row);
      });
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) broken = error as Error;
      throw error;
    } finally {
      // A connection whose transaction failed midway is destroyed, not given back: that
      // ends (rolls back) whatever of the transaction was still open.
      client.release(broken);
    }
  }

  private appended(
    streamName: string,
    expected: ExpectedRevision,
    events: readonly EventToAppend[],
    row: AppendRow,
  ): AppendResult {
    if (row.outcome === 'wrong_expected_revision') {
      const actual = BigInt(row.revision);
      throw new WrongExpectedVersionError(streamName, expected, actual < 0n ? 'no_stream' : actual);
    }
    const position = { commit: BigInt(row.transaction_id!), prepare: BigInt(row.seq!) };
    if (row.outcome === 'ok')
      this.notifier.announce(
        position,
        events.map((event) => event.type),
      );
    return {
      nextExpectedRevision: BigInt(row.revision),
      position,
      duplicate: row.outcome === 'duplicate',
    };
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
      const page = await readSafeBatch(this.pool, from, options.filter, limit);
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

  async *streamAll(options: StreamAllOptions = {}): AsyncIterable<LogBatch> {
    const batchSize = options.batchSize ?? 500;
    const signal = options.signal;
    let checkpoint = options.fromPosition ?? START;
    let delivered = checkpoint;
    const waker = this.wakeOnAppends(options.filter);
    await this.notifier.listen().catch(() => undefined);
    try {
      let retryDelay = 1;
      while (!signal?.aborted && !this.closed) {
        const { events, horizon } = await readSafeBatch(
          this.pool,
          checkpoint,
          options.filter,
          batchSize,
        );
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
        const behind = waker.newest().commit >= horizon;
        const waitMs = behind ? retryDelay : this.pollIntervalMs;
        retryDelay = behind ? Math.min(retryDelay * 2, 50) : 1;
        // Reconnect LISTEN after a dropped connection, so other processes' appends wake us again.
        if (!this.notifier.listening && !this.closed) void this.notifier.listen().catch(() => 0);
        await waker.wait(waitMs, signal);
      }
    } finally {
      waker.stop();
    }
  }

  /** Wakes a reader's wait when an append it could care about commits. */
  private wakeOnAppends(filter: LogFilter | undefined) {
    const wanted = filter?.eventTypes;
    let newest: Position = START;
    let wake: (() => void) | undefined;
    const subscription = this.notifier.committed.subscribe(({ position, types }) => {
      // An append of none of the wanted types changes nothing for this reader.
      if (wanted && types && !types.some((type) => wanted.includes(type))) return;
      if (comparePositions(position, newest) > 0) newest = position;
      wake?.();
    });
    return {
      newest: () => newest,
      wait: async (ms: number, signal: AbortSignal | undefined) => {
        const waitOver = new AbortController();
        wake = () => waitOver.abort();
        await sleep(
          ms,
          AbortSignal.any([waitOver.signal, this.closing.signal, ...(signal ? [signal] : [])]),
        );
        wake = undefined;
      },
      stop: () => subscription.unsubscribe(),
    };
  }

  subscribeToAll(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    return observeBatches((signal) => this.streamAll({ ...options, signal }));
  }

  headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position> {
    return queryHeadPosition(this.pool, filter);
  }

  countEvents(options: CountEventsOptions): Promise<number> {
    return queryCountEvents(this.pool, options);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    await this.notifier.close();
  }
}

/** The `es_append` argument for a batch: every event with an id (a new UUID if none). */
function appendPayload(events: readonly EventToAppend[]): string {
  return JSON.stringify(
    events.map((event) => ({
      id: event.id ?? randomUUID(),
      type: event.type,
      data: event.data,
      metadata: event.metadata ?? {},
    })),
  );
}
