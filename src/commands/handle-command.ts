import { foldEvents, type Event, type StreamKind } from '../events/event.js';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
} from '../events/store/port.js';
import { isRefusal, refusalError, type Decision, type Refusal } from './decision.js';
import { DomainError } from './errors.js';
import { retryJitterCapMs } from '../policies.js';
import { streamStateCache, type CachedStream, type StreamStateCache } from './stream-cache.js';

export interface HandleOptions {
  /** Re-read and decide again after a conflict, this many times (0: conflicts surface). */
  readonly retries?: number;
  readonly metadata?: EventMetadata;
  /** Ids for the decided events, by index: a retried step then appends the same ids. */
  readonly eventIds?: (event: Event, index: number) => string | undefined;
  /**
   * The stream most likely does not exist yet (a new user's token): when it is not cached,
   * decide on the empty stream and append with `no_stream` without reading first. If it
   * does exist, the append fails and the loop reads it, as after a stale cached state.
   */
  readonly likelyNew?: boolean;
}

export interface Handled<State> {
  readonly state: State;
  readonly events: readonly Event[];
  /** Undefined when the decision appended nothing. */
  readonly appended: AppendResult | undefined;
}

/** The decider refused on this state: nothing was appended. */
export interface Refused<State> {
  readonly state: State;
  readonly refusal: Refusal;
}

/**
 * The command loop for callers that act on a refusal (the payment process): a decided
 * refusal comes back as a value. The last folded state of a stream this process wrote or
 * read is kept (stream-cache.ts), so a command on a hot stream is one append round trip;
 * exclusivity still comes from the expected revision alone. Exceptions mean nobody decided: an exhausted conflict
 * retry (CONCURRENCY_CONFLICT) or the infrastructure.
 */
export async function tryCommand<State, E extends Event>(
  store: EventStore,
  streamName: string,
  kind: StreamKind<State, E>,
  decide: (state: State) => Decision<E>,
  options: HandleOptions = {},
): Promise<Handled<State> | Refused<State>> {
  const retries = options.retries ?? 0;
  const cache = streamStateCache(store);
  let cached =
    cache.get(streamName, kind) ??
    (options.likelyNew ? { state: kind.initialState(), revision: -1n } : undefined);
  /** The store's answer when our events' ids were in the stream already. */
  let earlier: AppendResult | undefined;
  for (let attempt = 0; ;) {
    const { state, revision } = cached ?? (await readFolded(store, cache, streamName, kind));
    const events = decide(state);
    if (cached && (isRefusal(events) || events.length === 0)) {
      // A cached state may be behind the log: only a fresh read may refuse or do nothing.
      cached = undefined;
      continue;
    }
    if (isRefusal(events)) return { state, refusal: events };
    // After a duplicate: the earlier append is what this command's result points at.
    if (events.length === 0) return { state, events, appended: earlier };
    try {
      const written = { streamName, kind, state, revision, events };
      const appended = await appendEvents(store, written, options);
      if (appended.duplicate !== false) {
        // The ids were in the stream already: what it holds may be another request's
        // decision (the same Idempotency-Key, another amount) made while ours was on an
        // older state. Decide again on a fresh read: a repeat then does nothing, and a
        // different request under the same id is refused.
        if (earlier) throw new Error(`${streamName}: a fresh decision repeated stored ids`);
        earlier = appended;
        cache.delete(streamName);
        cached = undefined;
        continue;
      }
      return { state: remember(cache, written, appended), events, appended };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      cache.delete(streamName);
      // A stale cached state is no concurrent writer: read and decide again at once.
      if (cached) {
        cached = undefined;
        continue;
      }
      if (attempt >= retries) {
        throw new DomainError(
          'CONCURRENCY_CONFLICT',
          `${streamName} changed concurrently; try again`,
        );
      }
      attempt++;
      // Jitter spreads contending writers so that one of them wins each round.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * Math.min(2 ** (attempt - 1), retryJitterCapMs)),
      );
    }
  }
}

/** One stream's command for `handleTogether`. */
export interface StreamCommand<State, E extends Event> {
  readonly streamName: string;
  readonly decide: (state: State) => Decision<E>;
}

/**
 * Commands on several streams of one kind, appended together with `appendToStreams` (one
 * transaction on PostgreSQL: subscribers see them at once, and the log keeps the given
 * order). Each is decided on its cached state, or on a fresh read when that decides
 * nothing; a refusal or an empty decision appends nothing. Returns how many events were
 * appended, or undefined when a stream had moved on (a stale cached state, a concurrent
 * writer): nothing after it was appended, and the caller goes one stream at a time
 * (tryCommand), each deciding again on what the log holds by then. Infrastructure errors
 * propagate, as from tryCommand.
 */
export async function handleTogether<State, E extends Event>(
  store: EventStore,
  kind: StreamKind<State, E>,
  commands: readonly StreamCommand<State, E>[],
  options: Pick<HandleOptions, 'metadata'> = {},
): Promise<number | undefined> {
  const cache = streamStateCache(store);
  const decided = await Promise.all(
    commands.map(async ({ streamName, decide }) => {
      let current = cache.get(streamName, kind);
      let events = current ? decide(current.state) : [];
      if (!current || isRefusal(events) || events.length === 0) {
        current = await readFolded(store, cache, streamName, kind);
        events = decide(current.state);
      }
      if (isRefusal(events) || events.length === 0) return undefined;
      return { streamName, kind, ...current, events };
    }),
  );
  const appending = decided.filter((entry) => entry !== undefined);
  if (appending.length === 0) return 0;
  let results: AppendResult[];
  try {
    results = await store.appendToStreams(
      appending.map(({ streamName, revision, events }) => ({
        streamName,
        events: toAppend(events, options),
        expectedRevision: revision < 0n ? 'no_stream' : revision,
      })),
    );
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError)) throw error;
    for (const { streamName } of appending) cache.delete(streamName);
    return undefined;
  }
  // A stream whose ids were there already stored nothing: decide one at a time instead.
  if (results.some((result) => result.duplicate !== false)) {
    for (const { streamName } of appending) cache.delete(streamName);
    return undefined;
  }
  appending.forEach((entry, index) => remember(cache, entry, results[index]!));
  return appending.reduce((count, entry) => count + entry.events.length, 0);
}

/** Appends the decided events against `revision`. */
function appendEvents<State, E extends Event>(
  store: EventStore,
  { streamName, revision, events }: Decided<State, E>,
  options: HandleOptions,
): Promise<AppendResult> {
  const expectedRevision: ExpectedRevision = revision < 0n ? 'no_stream' : revision;
  return store.appendToStream(streamName, toAppend(events, options), { expectedRevision });
}

interface Decided<State, E extends Event> {
  readonly streamName: string;
  readonly kind: StreamKind<State, E>;
  readonly state: State;
  readonly revision: bigint;
  readonly events: readonly E[];
}

function toAppend(events: readonly Event[], options: HandleOptions) {
  return events.map((event, index) => ({
    id: options.eventIds?.(event, index),
    type: event.type,
    data: event.data,
    metadata: options.metadata,
  }));
}

/** The folded state after an append, cached when the append was our own. */
function remember<State, E extends Event>(
  cache: StreamStateCache,
  { streamName, kind, state, revision, events }: Decided<State, E>,
  appended: AppendResult,
): State {
  const next = events.reduce((folded, event) => kind.evolve(folded, event), state);
  // Cache only a fold that is the stream's: our own append, right after `revision`.
  if (appended.nextExpectedRevision === revision + BigInt(events.length))
    cache.set(streamName, kind, next, appended.nextExpectedRevision);
  else cache.delete(streamName);
  return next;
}

/** Reads and folds the whole stream; a stream that exists is remembered for the next command. */
async function readFolded<State, E extends Event>(
  store: EventStore,
  cache: StreamStateCache,
  streamName: string,
  kind: StreamKind<State, E>,
): Promise<CachedStream<State>> {
  const recorded = await store.readStream(streamName);
  const state = foldEvents(kind, recorded);
  if (recorded.length === 0) return { state, revision: -1n };
  const revision = recorded[recorded.length - 1]!.revision;
  cache.set(streamName, kind, state, revision);
  return { state, revision };
}

/**
 * The command loop: read the stream, fold it, decide, append with the revision just read.
 * Deciders are pure, so after a conflict running them again on the fresh state is safe.
 * A refusal becomes the DomainError of its code, for a caller that only reports it.
 */
export async function handleCommand<State, E extends Event>(
  store: EventStore,
  streamName: string,
  kind: StreamKind<State, E>,
  decide: (state: State) => Decision<E>,
  options: HandleOptions = {},
): Promise<Handled<State>> {
  const outcome = await tryCommand(store, streamName, kind, decide, options);
  if ('refusal' in outcome) throw refusalError(outcome.refusal);
  return outcome;
}
