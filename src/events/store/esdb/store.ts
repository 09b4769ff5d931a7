import { randomUUID } from 'node:crypto';
import {
  DeadlineExceededError,
  EventStoreDBClient,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  jsonEvent,
  type AllStreamResolvedEvent,
} from '@eventstore/db-client';
import type { Observable } from 'rxjs';
import { observeBatches } from '../live-batches.js';
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
import {
  consume,
  matches,
  positionOf,
  toRecordedEvent,
  type AnyResolved,
  type EsdbClient,
} from './client.js';
import { streamAllLive } from './live.js';
import { ScanMemo, filterKey } from './scan-memo.js';

export interface EventStoreDbOptions {
  /** Records per read of $all (readAll, headPosition); at least 2. */
  readonly pageSize?: number;
  /** How far back a timed-out append looks for its own events. */
  readonly recoveryDepth?: number;
  /** streamAll pauses the server stream past this many undelivered records. */
  readonly maxBuffered?: number;
}

/**
 * The EventStoreDB / KurrentDB adapter, selected by EVENTSTORE_URL. Revisions, positions
 * (commit/prepare) and expected revisions are the server's own. The v6 client reads
 * $all without server-side filters, so filters run here, and repeated filtered scans
 * resume from where the last one stopped (ScanMemo) instead of rescanning the log.
 */
export class EventStoreDbStore implements EventStore {
  private readonly pageSize: number;
  private readonly recoveryDepth: number;
  private readonly scans = new ScanMemo();
  /** headPosition per type filter: the newest match and how far the log was scanned. */
  private readonly heads = new Map<string, { scanned: Position; newest: Position | undefined }>();

  constructor(
    private readonly client: EsdbClient,
    private readonly options: EventStoreDbOptions = {},
  ) {
    this.pageSize = Math.max(2, options.pageSize ?? 500);
    this.recoveryDepth = options.recoveryDepth ?? 1000;
  }

  static connect(connectionString: string, options?: EventStoreDbOptions): EventStoreDbStore {
    return new EventStoreDbStore(EventStoreDBClient.connectionString(connectionString), options);
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    const expectedRevision = options.expectedRevision ?? 'any';
    // Every event gets an id here, so a timed-out append can find out whether it landed.
    const ids = events.map((event) => event.id ?? randomUUID());
    try {
      const result = await this.client.appendToStream(
        streamName,
        events.map((event, index) =>
          jsonEvent({
            id: ids[index]!,
            type: event.type,
            data: event.data as Record<string, unknown>,
            metadata: event.metadata ?? {},
          }),
        ),
        { expectedRevision },
      );
      const position =
        result.position ?? (await this.positionAt(streamName, result.nextExpectedRevision));
      // The server answers an idempotent re-append without a position; only ids the
      // caller chose can repeat (ours are new UUIDs).
      return {
        nextExpectedRevision: result.nextExpectedRevision,
        position,
        duplicate: result.position === undefined && events.some((event) => event.id),
      };
    } catch (error) {
      if (error instanceof EsdbWrongExpectedVersionError) {
        const actual = error.actualVersion;
        throw new WrongExpectedVersionError(
          streamName,
          expectedRevision,
          typeof actual === 'bigint' ? actual : 'no_stream',
        );
      }
      // A duplicate that reaches the server before the original is indexed, or an append
      // whose answer was lost, times out: if the batch is in the stream, that is the result.
      if (error instanceof DeadlineExceededError) {
        const original = await this.findAppended(streamName, ids[ids.length - 1]!);
        if (original) return original;
      }
      throw error;
    }
  }

  /** KurrentDB has no multi-stream transaction here: one append after another, in order. */
  async appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    if (new Set(appends.map((append) => append.streamName)).size !== appends.length)
      throw new Error('appendToStreams appends to each stream once');
    const results: AppendResult[] = [];
    for (const { streamName, events, expectedRevision } of appends)
      results.push(await this.appendToStream(streamName, events, { expectedRevision }));
    return results;
  }

  /** Looks for an event id among the stream's last `recoveryDepth` events. */
  private async findAppended(streamName: string, id: string): Promise<AppendResult | undefined> {
    let found: RecordedEvent | undefined;
    try {
      await consume(
        this.client.readStream(streamName, {
          direction: 'backwards',
          fromRevision: 'end',
          maxCount: this.recoveryDepth,
        }),
        (resolved: AnyResolved) => {
          if (resolved.event?.id === id) found = toRecordedEvent(resolved);
          return !found;
        },
      );
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    return found && { nextExpectedRevision: found.revision, position: found.position };
  }

  /** An idempotent re-append answers without a position: read it from the stream. */
  private async positionAt(streamName: string, revision: bigint): Promise<Position> {
    const [event] = await this.readStream(streamName, { fromRevision: revision, maxCount: 1 });
    return event?.position ?? START;
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const events: RecordedEvent[] = [];
    try {
      await consume(
        this.client.readStream(streamName, {
          direction: backwards ? 'backwards' : 'forwards',
          fromRevision: options.fromRevision ?? (backwards ? 'end' : 'start'),
          ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
        }),
        (resolved: AnyResolved) => {
          const event = toRecordedEvent(resolved);
          if (event) events.push(event);
          return true;
        },
      );
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  /**
   * Reads $all forwards after `from` (exclusive), a page at a time, until `visit` returns
   * false or the end. The server starts a page at its position inclusively, so the record
   * at the page boundary, read already, is skipped. Returns the last position read.
   */
  private async scanForward(
    from: Position | undefined,
    visit: (event: RecordedEvent | undefined, position: Position) => boolean,
  ): Promise<Position | undefined> {
    let cursor = from && comparePositions(from, START) > 0 ? from : undefined;
    for (;;) {
      let read = 0;
      let stopped = false;
      await consume(
        this.client.readAll({ fromPosition: cursor ?? 'start', maxCount: this.pageSize }),
        (resolved: AllStreamResolvedEvent) => {
          read++;
          const position = resolved.event?.position;
          if (!position || (cursor && comparePositions(position, cursor) <= 0)) return true;
          cursor = positionOf(position);
          stopped = !visit(toRecordedEvent(resolved), cursor);
          return !stopped;
        },
      );
      if (stopped || read < this.pageSize) return cursor;
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const maxCount = options.maxCount ?? 1000;
    const { toPosition } = options;
    let beyond = false;
    const key = filterKey(options.filter, options.fromPosition, maxCount);
    const known = this.scans.get(key);
    const events = [...(known?.events ?? [])];
    if (events.length >= maxCount) return events.slice(0, maxCount);
    const scanned = await this.scanForward(known?.scanned ?? options.fromPosition, (event) => {
      if (event && toPosition && comparePositions(event.position, toPosition) > 0) {
        beyond = true;
        return false;
      }
      if (event && matches(event, options.filter)) events.push(event);
      return events.length < maxCount;
    });
    if (events.length < maxCount && scanned && !beyond) this.scans.set(key, { scanned, events });
    return toPosition
      ? events.filter((event) => comparePositions(event.position, toPosition) <= 0)
      : events;
  }

  async *streamAll(options: StreamAllOptions = {}): AsyncIterable<LogBatch> {
    yield* streamAllLive(this.client, options, {
      ...(this.options.maxBuffered ? { maxBuffered: this.options.maxBuffered } : {}),
    });
  }

  subscribeToAll(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    return observeBatches((signal) => this.streamAll({ ...options, signal }));
  }

  /** EventStoreDB has no count: read the (filtered) events up to the limit and count them. */
  async countEvents(options: CountEventsOptions): Promise<number> {
    const ahead = await this.readAll({
      ...(options.fromPosition ? { fromPosition: options.fromPosition } : {}),
      ...(options.filter ? { filter: options.filter } : {}),
      maxCount: options.limit,
    });
    return ahead.length;
  }

  /**
   * Without a filter: the newest of our events, read backwards a page at a time. With a
   * type filter: the first call reads backwards to the newest match (once), later calls
   * read forwards from where the last one stopped, so admission's call every second
   * costs the records appended since, not a scan of the log.
   */
  async headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position> {
    const key = filterKey(filter, undefined, 0);
    const known = this.heads.get(key);
    if (known) {
      let newest = known.newest;
      const scanned = await this.scanForward(known.scanned, (event, position) => {
        if (event && matches(event, filter)) newest = position;
        return true;
      });
      this.heads.set(key, { scanned: scanned ?? known.scanned, newest });
      return newest ?? START;
    }
    const { head, newest } = await this.scanBackward(filter);
    if (head) this.heads.set(key, { scanned: head, newest });
    return newest ?? START;
  }

  private async scanBackward(
    filter: Pick<LogFilter, 'eventTypes'> | undefined,
  ): Promise<{ head: Position | undefined; newest: Position | undefined }> {
    let head: Position | undefined;
    let newest: Position | undefined;
    let cursor: Position | undefined;
    for (;;) {
      let read = 0;
      await consume(
        this.client.readAll({
          direction: 'backwards',
          fromPosition: cursor ?? 'end',
          maxCount: this.pageSize,
        }),
        (resolved: AllStreamResolvedEvent) => {
          read++;
          const position = resolved.event?.position;
          if (!position || (cursor && comparePositions(position, cursor) >= 0)) return true;
          cursor = positionOf(position);
          head ??= cursor;
          const event = toRecordedEvent(resolved);
          if (event && matches(event, filter)) newest = cursor;
          return !newest;
        },
      );
      if (newest || read < this.pageSize) return { head, newest };
    }
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}
