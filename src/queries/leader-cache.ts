import type { DomainEventType, ParsedEvent } from '../events/domain-event.js';
import { handledBy, type Projection } from '../projections/projection.js';
import { readModelsSwapped, type ProjectionRunner } from '../projections/runner.js';

/**
 * A read cache that is never behind its read model (docs/read-side.md, "Caches"):
 * `invalidate` names the keys a projection's batch changes. The leader runs it right
 * after that batch commits, before any read-your-writes waiter is released; a standby
 * runs it on the batches it catches up, and `read` waits for a freshness check first.
 * Entries from an earlier spell of leading or following are ignored.
 */
export class LeaderCache<V, T extends DomainEventType = DomainEventType> {
  private readonly entries = new Map<string, { value: V; epoch: number }>();
  /** Moves whenever a batch drops something: a value loaded across a drop is not kept. */
  private generation = 0;
  /** Leader batches between the start of their transaction and its end. */
  private inFlight = 0;

  constructor(
    private readonly runner: ProjectionRunner,
    private readonly projection: Projection<T>,
    /**
     * The keys an event changes; 'all' drops everything; 'unplaceable' means the event
     * cannot be tied to a key yet (what it belongs to is learnt by a load still in
     * flight): nothing cached is affected, but no load overlapping it is kept.
     */
    private readonly invalidate: (
      event: ParsedEvent<T>,
    ) => readonly string[] | 'all' | 'unplaceable',
    private readonly limit = 100_000,
  ) {
    runner.follower.follow(projection);
    // A batch about to commit: drop its keys now, and keep no load until it has ended (a
    // process that sees the commit first may answer its 2xx before `applied` runs here).
    runner.applying.subscribe(({ projection: name, events, done }) => {
      if (name !== projection.name) return;
      this.inFlight++;
      this.drop(events);
      this.generation++;
      const end = () => {
        this.inFlight--;
        this.generation++;
      };
      done.then(end, end);
    });
    runner.applied.subscribe((batch) => {
      if (batch.projection === readModelsSwapped) {
        // A rebuild swapped a table in (here or in another process): nothing cached holds.
        this.entries.clear();
        this.generation++;
      } else if (batch.projection === projection.name && this.drop(batch.events)) {
        this.generation++;
      }
    });
  }

  /** Drops what `events` change; true when that may matter to a load in flight. */
  private drop(events: readonly ParsedEvent[]): boolean {
    let dropped = false;
    for (const event of events) {
      if (!handledBy(this.projection, event)) continue;
      const keys = this.invalidate(event);
      if (keys === 'all') {
        this.entries.clear();
        return true;
      }
      if (keys === 'unplaceable') {
        dropped = true;
        continue;
      }
      for (const key of keys) this.entries.delete(key);
      dropped ||= keys.length > 0;
    }
    return dropped;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.epoch === this.runner.cacheEpoch ? entry.value : undefined;
  }

  /**
   * The cached value, else a load. A standby first waits for a freshness check; when
   * freshness cannot be known it reads without the cache.
   */
  async read(
    key: string,
    fetch: () => Promise<V | undefined>,
    keep?: (value: V) => boolean,
  ): Promise<V | undefined> {
    const { follower, isLeader } = this.runner;
    if (!isLeader && !(await follower.fresh(this.projection.name))) return fetch();
    return this.get(key) ?? this.load(key, fetch, keep);
  }

  /**
   * Loads and caches (undefined is not cached). A value is kept only if leadership and
   * the cache's generation are what they were before loading: the read could otherwise
   * predate a batch that has already been applied (and dropped nothing, since the value
   * was not there yet).
   */
  async load(
    key: string,
    fetch: () => Promise<V | undefined>,
    keep: (value: V) => boolean = () => true,
  ): Promise<V | undefined> {
    const epoch = this.runner.cacheEpoch;
    const generation = this.generation;
    const quiet = this.inFlight === 0;
    const value = await fetch();
    const unchanged =
      quiet &&
      epoch !== undefined &&
      epoch === this.runner.cacheEpoch &&
      generation === this.generation;
    if (value !== undefined && unchanged && keep(value)) {
      if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, epoch });
    }
    return value;
  }
}
