import {
  EventStoreDBClient,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type Filter,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type { Observable } from 'rxjs';
import { observeBatches } from '../live-batches.js';
import {
  START,
  WrongExpectedVersionError,
  comparePositions,
  type AppendResult,
  type EventMetadata,
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

type AnyResolved = ResolvedEvent | AllStreamResolvedEvent;

function toRecordedEvent(resolved: AnyResolved): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || !event.isJson || event.type.startsWith('$')) return undefined;
  const position = event.position ?? { commit: -1n, prepare: -1n };
  return {
    id: event.id,
    streamName: event.streamId,
    revision: event.revision,
    position: { commit: position.commit, prepare: position.prepare },
    type: event.type,
    data: event.data,
    metadata: (event.metadata ?? {}) as EventMetadata,
    createdAt: event.created,
  };
}

function matches(event: RecordedEvent, filter: LogFilter | undefined): boolean {
  if (filter?.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (
    filter?.streamPrefixes &&
    !filter.streamPrefixes.some((prefix) => event.streamName.startsWith(prefix))
  )
    return false;
  return true;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The EventStoreDB / KurrentDB adapter, selected by EVENTSTORE_URL. Revisions, positions
 * (commit/prepare), expected revisions and event-id idempotency are the server's own.
 */
export class EventStoreDbStore implements EventStore {
  private constructor(private readonly client: EventStoreDBClient) {}

  static connect(connectionString: string): EventStoreDbStore {
    return new EventStoreDbStore(EventStoreDBClient.connectionString(connectionString));
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expectedRevision = options.expectedRevision ?? 'any';
    try {
      const result = await this.client.appendToStream(
        streamName,
        events.map((event) =>
          jsonEvent({
            ...(event.id ? { id: event.id } : {}),
            type: event.type,
            data: event.data as Record<string, unknown>,
            metadata: event.metadata ?? {},
          }),
        ),
        { expectedRevision },
      );
      const position =
        result.position ?? (await this.positionOf(streamName, result.nextExpectedRevision));
      return { nextExpectedRevision: result.nextExpectedRevision, position };
    } catch (error) {
      if (error instanceof EsdbWrongExpectedVersionError) {
        const actual = error.actualVersion;
        throw new WrongExpectedVersionError(
          streamName,
          expectedRevision,
          typeof actual === 'bigint' ? actual : 'no_stream',
        );
      }
      throw error;
    }
  }

  /** An idempotent re-append answers without a position: read it from the stream. */
  private async positionOf(streamName: string, revision: bigint): Promise<Position> {
    const [event] = await this.readStream(streamName, { fromRevision: revision, maxCount: 1 });
    return event?.position ?? START;
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, {
        direction: backwards ? 'backwards' : 'forwards',
        fromRevision: options.fromRevision ?? (backwards ? 'end' : 'start'),
        ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
      })) {
        const event = toRecordedEvent(resolved);
        if (event) events.push(event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const maxCount = options.maxCount ?? 1000;
    const events: RecordedEvent[] = [];
    let from: Position | undefined =
      options.fromPosition && comparePositions(options.fromPosition, START) > 0
        ? options.fromPosition
        : undefined;
    for (;;) {
      let read = 0;
      // readAll starts at its position inclusively; the port's fromPosition is exclusive.
      for await (const resolved of this.client.readAll({
        fromPosition: from ?? 'start',
        maxCount: 500,
      })) {
        read++;
        const event = toRecordedEvent(resolved);
        const position = resolved.event?.position;
        if (position) from = { commit: position.commit, prepare: position.prepare };
        if (
          !event ||
          (options.fromPosition && comparePositions(event.position, options.fromPosition) <= 0)
        )
          continue;
        if (matches(event, options.filter)) events.push(event);
        if (events.length >= maxCount) return events;
      }
      if (read < 500) return events;
    }
  }

  private serverFilter(
    filter: LogFilter | undefined,
    checkpointReached: Filter['checkpointReached'],
  ): Filter | undefined {
    if (filter?.eventTypes) {
      return eventTypeFilter({
        regex: `^(?:${filter.eventTypes.map(escapeRegex).join('|')})$`,
        checkpointInterval: 1,
        ...(checkpointReached ? { checkpointReached } : {}),
      });
    }
    if (filter?.streamPrefixes) {
      return streamNameFilter({
        prefixes: [...filter.streamPrefixes],
        checkpointInterval: 1,
        ...(checkpointReached ? { checkpointReached } : {}),
      });
    }
    return checkpointReached
      ? eventTypeFilter({ regex: '^[^$]', checkpointInterval: 1, checkpointReached })
      : undefined;
  }

  async *streamAll(options: StreamAllOptions = {}): AsyncIterable<LogBatch> {
    const queue: LogBatch[] = [];
    let wake: (() => void) | undefined;
    const push = (batch: LogBatch) => {
      queue.push(batch);
      wake?.();
    };
    const from =
      options.fromPosition && comparePositions(options.fromPosition, START) > 0
        ? options.fromPosition
        : undefined;
    const subscription = this.client.subscribeToAll({
      fromPosition: from ?? 'start',
      filter: this.serverFilter(options.filter, (_subscription, position) => {
        push({ events: [], checkpoint: { commit: position.commit, prepare: position.prepare } });
      }),
    });
    subscription.on('data', (resolved: AllStreamResolvedEvent) => {
      const event = toRecordedEvent(resolved);
      if (event && matches(event, options.filter))
        push({ events: [event], checkpoint: event.position });
      // Bound memory when the consumer is slower than the server.
      if (queue.length > 1000) subscription.pause();
    });
    let failure: Error | undefined;
    subscription.on('error', (error: Error) => {
      failure = error;
      wake?.();
    });
    const stop = () => wake?.();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      while (!options.signal?.aborted) {
        if (failure) throw failure;
        const batch = queue.shift();
        if (!batch) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (queue.length < 100 && subscription.isPaused()) subscription.resume();
        yield batch;
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      await subscription.unsubscribe();
    }
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

  async headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position> {
    // Bounded: past 10,000 events back, the newest event of any type stands in (later).
    let newest: Position | undefined;
    for await (const resolved of this.client.readAll({
      direction: 'backwards',
      fromPosition: 'end',
      maxCount: 10_000,
    })) {
      const event = toRecordedEvent(resolved);
      if (!event) continue;
      newest ??= event.position;
      if (matches(event, filter)) return event.position;
    }
    return newest ?? START;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}
