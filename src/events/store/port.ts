import type { Observable } from 'rxjs';

/**
 * The event store port: EventStoreDB's semantics, implemented by the PostgreSQL store
 * (default) and the EventStoreDB adapter. Both pass test/events/store/contract.ts.
 */

/** `bigint` is the exact revision of the stream's last event (revisions start at 0). */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/**
 * A global log position. Ordered by `commit`, then `prepare` (as in EventStoreDB).
 * PostgreSQL store: commit = writing transaction id, prepare = global sequence number.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: -1n, prepare: -1n });

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function formatPosition(position: Position): string {
  return `${position.commit}/${position.prepare}`;
}

const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** A position as text ("commit/prepare"); undefined unless both parts fit in 64 bits. */
export function parsePosition(text: string): Position | undefined {
  const match = /^(-?\d{1,20})\/(-?\d{1,20})$/.exec(text);
  if (!match) return undefined;
  const [commit, prepare] = [BigInt(match[1]!), BigInt(match[2]!)];
  const fits = (value: bigint) => value >= int64.min && value <= int64.max;
  return fits(commit) && fits(prepare) ? { commit, prepare } : undefined;
}

export interface EventMetadata {
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly [key: string]: unknown;
}

export interface EventToAppend {
  /**
   * A UUID. Re-appending a batch whose last id is already in the stream returns the
   * original result and stores nothing. The guarantee differs by store:
   * - PostgreSQL: always (the id is checked in the stream, and unique in the log).
   * - KurrentDB: always for an exact expected revision or `no_stream` (the server compares
   *   the ids at that revision); for `any` / `stream_exists` only while the server's
   *   recent-id cache holds them (lost on a server restart). A timed-out append is looked
   *   up in the stream by id before it fails.
   * So a retry that must never duplicate appends with an exact revision.
   */
  readonly id?: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: EventMetadata;
}

export interface RecordedEvent {
  readonly id: string;
  readonly streamName: string;
  readonly revision: bigint;
  readonly position: Position;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  readonly createdAt: Date;
}

export interface AppendResult {
  /** The revision of the stream's last event after the append. */
  readonly nextExpectedRevision: bigint;
  /** The log position of the last appended event. */
  readonly position: Position;
  /**
   * True when the batch's last id was in the stream already, so nothing was stored: the
   * stream holds that earlier append, which may be another writer's decision on an older
   * state, not these events. Undefined when the store cannot tell.
   */
  readonly duplicate?: boolean;
}

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive. Defaults to the first (forwards) or last (backwards) event. */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
}

export interface LogFilter {
  readonly eventTypes?: readonly string[];
  readonly streamPrefixes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Defaults to the start of the log. */
  readonly fromPosition?: Position;
  /**
   * Inclusive upper bound: a position already known to be committed (a checkpoint). The
   * read then waits for nothing newer, so it cannot wait on a transaction that is itself
   * waiting for the caller (a rebuild's swap holds table locks that writers queue on).
   */
  readonly toPosition?: Position;
  readonly maxCount?: number;
  readonly filter?: LogFilter;
}

export interface CountEventsOptions {
  /** Exclusive, as in readAll. */
  readonly fromPosition?: Position;
  readonly filter?: Pick<LogFilter, 'eventTypes'>;
  /** Counting stops here (the answer is then `limit`). */
  readonly limit: number;
}

export interface SubscribeOptions {
  readonly fromPosition?: Position;
  readonly filter?: LogFilter;
}

export interface StreamAllOptions extends SubscribeOptions {
  readonly batchSize?: number;
  /** Ends the iteration, also while it waits for new events. */
  readonly signal?: AbortSignal;
}

/**
 * A batch from streamAll. `checkpoint` is the position up to which the log has been
 * delivered (filtered-out events included): at least the last event's position, and it
 * also advances in empty batches, so a filtered consumer can tell it is caught up.
 */
export interface LogBatch {
  readonly events: readonly RecordedEvent[];
  readonly checkpoint: Position;
}

/** One stream's part of `appendToStreams`. */
export interface StreamAppend {
  readonly streamName: string;
  /** At least one event. */
  readonly events: readonly EventToAppend[];
  readonly expectedRevision: ExpectedRevision;
}

export interface EventStore {
  /** At least one event (an empty batch is refused). */
  appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /**
   * Appends to several distinct streams in this order, each against its own expected
   * revision; the results come in the same order. PostgreSQL commits them in one
   * transaction (all or none; subscribers see them together). KurrentDB appends them one
   * after another. On an error (a WrongExpectedVersionError names the first stream that
   * failed), the appends before the failing one may have landed, never one after it.
   */
  appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]>;
  /** An absent stream reads as empty. */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Every committed event after `fromPosition`, in log order, exactly once; then live. */
  subscribeToAll(options?: SubscribeOptions): Observable<RecordedEvent>;
  /**
   * The same guarantee as subscribeToAll, pulled in batches: the next batch is read only
   * when the consumer asks for it, so a slow consumer (a projection) bounds memory.
   */
  streamAll(options?: StreamAllOptions): AsyncIterable<LogBatch>;
  /**
   * The position of the last committed event (or START). Subscribers reach it once every
   * older transaction has ended, so waiting for it covers everything committed so far.
   */
  headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position>;
  /**
   * How many events (of the filter's types) lie after `fromPosition`, counted up to
   * `limit`: a projection's lag, without reading the events themselves.
   */
  countEvents(options: CountEventsOptions): Promise<number>;
  close(): Promise<void>;
}

export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** `no_stream` when the stream does not exist. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(
      `Wrong expected revision on ${streamName}: expected ${String(expected)}, actual ${String(actual)}`,
    );
  }
}
