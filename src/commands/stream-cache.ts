import type { Event, StreamKind } from '../events/event.js';
import type { EventStore } from '../events/store/port.js';

/** A stream's folded state and the revision it folds up to (-1: no stream). */
export interface CachedStream<State> {
  readonly state: State;
  readonly revision: bigint;
}

interface Entry {
  readonly kind: StreamKind<unknown, never>;
  readonly state: unknown;
  readonly revision: bigint;
}

/** Enough for every seat of a large on-sale plus hot wallets and tokens; ~0.5 KB each. */
export const streamCacheCapacity = 50_000;

/**
 * The last folded state of hot streams, so that a command appends against it in one
 * round trip. It may be behind the log (another process appended): the expected revision
 * then fails and the command loop reads the stream again. So the cache only ever saves a
 * read; it never decides an outcome alone (the loop confirms refusals on a fresh read).
 * Least recently used entries go first.
 */
export class StreamStateCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = streamCacheCapacity) {}

  get size(): number {
    return this.entries.size;
  }

  get<State, E extends Event>(
    streamName: string,
    kind: StreamKind<State, E>,
  ): CachedStream<State> | undefined {
    const entry = this.entries.get(streamName);
    // A stream is folded by one kind; a different kind asking is a different reading.
    if (!entry || entry.kind !== (kind as unknown)) return undefined;
    this.entries.delete(streamName);
    this.entries.set(streamName, entry);
    return { state: entry.state as State, revision: entry.revision };
  }

  set<State, E extends Event>(
    streamName: string,
    kind: StreamKind<State, E>,
    state: State,
    revision: bigint,
  ): void {
    this.entries.delete(streamName);
    this.entries.set(streamName, {
      kind: kind as unknown as StreamKind<unknown, never>,
      state,
      revision,
    });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(streamName: string): void {
    this.entries.delete(streamName);
  }

  /**
   * An event seen in the log (the projection feed): it extends a cached state when it is
   * the next revision, starts one when it is a stream's first event, and drops an entry
   * that a gap shows to be behind. Events already folded in are ignored.
   */
  observe<State, E extends Event>(
    streamName: string,
    kind: StreamKind<State, E>,
    revision: bigint,
    event: E,
  ): void {
    const entry = this.entries.get(streamName);
    if (!entry) {
      if (revision === 0n) this.set(streamName, kind, kind.evolve(kind.initialState(), event), 0n);
      return;
    }
    if (entry.kind !== (kind as unknown) || revision <= entry.revision) return;
    if (revision !== entry.revision + 1n) return this.delete(streamName);
    const state = kind.evolve(entry.state as State, event);
    this.entries.set(streamName, { kind: entry.kind, state, revision });
  }
}

const caches = new WeakMap<EventStore, StreamStateCache>();

/** One cache per store (per database), so separate stores never share states. */
export function streamStateCache(store: EventStore): StreamStateCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new StreamStateCache();
    caches.set(store, cache);
  }
  return cache;
}
