import type { RecordedEvent } from '../events/store/port.js';
import type { ProjectionRunner } from '../projections/runner.js';

/**
 * A read cache that is never behind its read model. Only the process running the
 * projections caches: `invalidate` names the keys a projection's batch changes, and runs
 * right after that batch commits and before any read-your-writes waiter is released.
 * Entries from an earlier spell of leadership are ignored.
 */
export class LeaderCache<V> {
  private readonly entries = new Map<string, { value: V; epoch: number }>();

  constructor(
    private readonly runner: ProjectionRunner,
    projection: string,
    invalidate: (event: RecordedEvent) => readonly string[] | 'all',
    private readonly limit = 100_000,
  ) {
    runner.applied.subscribe((batch) => {
      if (batch.projection !== projection) return;
      for (const event of batch.events) {
        const keys = invalidate(event);
        if (keys === 'all') return this.entries.clear();
        for (const key of keys) this.entries.delete(key);
      }
    });
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.epoch === this.runner.leaderEpoch ? entry.value : undefined;
  }

  /**
   * Loads and caches (undefined is not cached). The epoch is taken before loading, so a
   * value read while leadership changed is not kept.
   */
  async load(
    key: string,
    fetch: () => Promise<V | undefined>,
    keep: (value: V) => boolean = () => true,
  ): Promise<V | undefined> {
    const epoch = this.runner.leaderEpoch;
    const value = await fetch();
    if (
      value !== undefined &&
      epoch !== undefined &&
      epoch === this.runner.leaderEpoch &&
      keep(value)
    ) {
      if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, epoch });
    }
    return value;
  }
}
