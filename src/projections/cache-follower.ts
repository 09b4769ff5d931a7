import { sql } from 'kysely';
import type pg from 'pg';
import { parseRecorded } from '../events/domain-event.js';
import {
  comparePositions,
  parsePosition,
  type EventStore,
  type Position,
} from '../events/store/port.js';
import { appliedChannel, toPosition } from './checkpoints.js';
import type { Db } from './database.js';
import type { Projection } from './projection.js';

/** A batch handed to the caches (runner.ts's AppliedBatch). */
interface Dispatched {
  readonly projection: string;
  readonly events: readonly ReturnType<typeof parseRecorded>[];
}

interface FollowerDeps {
  readonly db: Db;
  readonly pool: pg.Pool;
  readonly store: EventStore;
  /** Hands a batch to this process's caches; `clearAll` is the notice that clears every cache. */
  readonly emit: (batch: Dispatched) => void;
  readonly clearAll: string;
  readonly log?: { error(error: unknown, message: string): void };
}

/** What one freshness check read: every persisted checkpoint and the cached tables' OIDs. */
interface Checked {
  readonly checkpoints: ReadonlyMap<string, Position>;
  readonly tables: string;
}

/** A catch-up longer than this clears the caches instead of reading every event. */
const gapLimit = 1000;

let epochs = 0;
/** Cache epochs, unique across leadership and following in this process. */
export const nextEpoch = (): number => ++epochs;

/**
 * A standby's caches, kept as current as the leader's (docs/read-side.md, "Caches"):
 * every read waits for one freshness check that started after it arrived (shared by
 * every read waiting then), and a projection found past what was dispatched here is
 * caught up from the log, its events handed to the caches as the leader hands them.
 */
export class CacheFollower {
  private readonly followed = new Map<string, Projection>();
  private readonly dispatched = new Map<string, Position>();
  private readonly catching = new Map<string, Promise<void>>();
  /** The furthest checkpoint heard of per projection: one catch-up reads up to it. */
  private readonly wanted = new Map<string, Position>();
  /** Resolves to the listening connection's release. */
  private listener: Promise<() => void> | undefined;
  private closed = false;
  private tables: string | undefined;
  private epochValue: number | undefined;
  /** Moves on every reset: work begun before one must not touch what came after. */
  private resets = 0;
  private current: Promise<unknown> = Promise.resolve();
  private next: Promise<Checked> | undefined;

  constructor(private readonly deps: FollowerDeps) {}

  /** Undefined until the first check placed every followed projection (nothing is kept before). */
  get epoch(): number | undefined {
    return this.epochValue;
  }

  follow(projection: Projection): void {
    this.followed.set(projection.name, projection);
  }

  /** Forget everything (a change of role): following restarts from the next check. */
  reset(): void {
    this.resets++;
    this.epochValue = undefined;
    this.dispatched.clear();
    this.wanted.clear();
    this.tables = undefined;
  }

  /**
   * True once this process's caches of `name` reflect every batch committed before the
   * call; false when that cannot be known (the caller then reads without the cache).
   */
  async fresh(name: string): Promise<boolean> {
    this.listen();
    const resets = this.resets;
    try {
      const checked = await this.check();
      const target = checked.checkpoints.get(name);
      if (resets !== this.resets || !target) return false;
      return await this.catchUp(name, target, resets);
    } catch (error) {
      this.deps.log?.error(error, 'cache follower: freshness unknown; reading without the cache');
      return false;
    }
  }

  /** The next check to start: joined by every caller until it starts (coalesced). */
  private check(): Promise<Checked> {
    this.next ??= this.startNext();
    return this.next;
  }

  private async startNext(): Promise<Checked> {
    // One check at a time: every read arriving while one runs shares the next.
    await this.current.catch(() => undefined);
    // From here on a caller arrived too late for this check: it joins the next one.
    this.next = undefined;
    const resets = this.resets;
    const reading = this.read();
    this.current = reading;
    const checked = await reading;
    if (resets === this.resets) this.observe(checked);
    return checked;
  }

  private async read(): Promise<Checked> {
    const tables = [...this.followed.values()].flatMap((projection) => projection.tables);
    const { rows } = await sql<{
      name: string;
      commit_position: string;
      prepare_position: string;
      tables: string | null;
    }>`SELECT name, commit_position, prepare_position,
         (SELECT string_agg(oid::text, ',' ORDER BY relname) FROM pg_class
           WHERE relnamespace = 'public'::regnamespace AND relname = ANY(${tables})) AS tables
       FROM projection_checkpoints`.execute(this.deps.db);
    return {
      checkpoints: new Map(rows.map((row) => [row.name, toPosition(row)])),
      tables: rows[0]?.tables ?? '',
    };
  }

  /** A swap (the cached tables' OIDs changed) clears every cache; a new projection starts an epoch. */
  private observe(checked: Checked): void {
    if (this.tables !== undefined && checked.tables !== this.tables)
      this.deps.emit({ projection: this.deps.clearAll, events: [] });
    this.tables = checked.tables;
    let placed = false;
    for (const name of this.followed.keys()) {
      const checkpoint = checked.checkpoints.get(name);
      if (this.dispatched.has(name) || !checkpoint) continue;
      // Nothing of this epoch is cached yet: no batch before this checkpoint matters.
      this.dispatched.set(name, checkpoint);
      placed = true;
    }
    if (placed) this.epochValue = nextEpoch();
  }

  private async catchUp(name: string, target: Position, resets: number): Promise<boolean> {
    const wanted = this.wanted.get(name);
    if (!wanted || comparePositions(target, wanted) > 0) this.wanted.set(name, target);
    for (;;) {
      const at = this.dispatched.get(name);
      if (resets !== this.resets || !at) return false;
      if (comparePositions(at, target) >= 0) return true;
      const running = this.catching.get(name);
      if (running) {
        await running;
        continue;
      }
      const run = this.dispatch(name, at, this.wanted.get(name)!, resets).finally(() =>
        this.catching.delete(name),
      );
      this.catching.set(name, run);
      await run;
    }
  }

  /** Hands the caches what the leader applied to `name` in (from, to]; a failure resets. */
  private async dispatch(name: string, from: Position, to: Position, resets: number) {
    const projection = this.followed.get(name)!;
    try {
      const read = await this.deps.store.readAll({
        fromPosition: from,
        toPosition: to,
        filter: { eventTypes: projection.handles },
        maxCount: gapLimit + 1,
      });
      if (resets !== this.resets) return;
      const events = read.filter((event) => comparePositions(event.position, to) <= 0);
      if (read.length > gapLimit) this.deps.emit({ projection: this.deps.clearAll, events: [] });
      else if (events.length > 0)
        this.deps.emit({ projection: name, events: events.map(parseRecorded) });
      this.dispatched.set(name, to);
    } catch (error) {
      // What the caches missed is unknown: start over (every entry of this epoch is dropped).
      if (resets === this.resets) this.reset();
      throw error;
    }
  }

  /**
   * The leader's checkpoint saves NOTIFY here (checkpoints.ts): catch up at once rather
   * than in the next read's path. Only speed depends on it: a lost notification is caught
   * by the freshness check, and a dropped connection is reopened by the next read.
   */
  private listen(): void {
    if (this.listener || this.closed) return;
    const listening = (async () => {
      const client = await this.deps.pool.connect();
      let released = false;
      // Once per client, whichever comes first: an error, a failed LISTEN or close().
      const release = () => {
        if (this.listener === listening) this.listener = undefined;
        if (released) return;
        released = true;
        client.release(true);
      };
      client.on('notification', ({ payload }) => this.heard(payload));
      client.on('error', release);
      await client.query(`LISTEN ${appliedChannel}`).catch((error: unknown) => {
        release();
        throw error;
      });
      if (this.closed) release();
      return release;
    })();
    this.listener = listening;
    listening.catch(() => {
      if (this.listener === listening) this.listener = undefined;
    });
  }

  private heard(payload: string | undefined): void {
    const [name, position] = (payload ?? '').split(' ');
    const target = position ? parsePosition(position) : undefined;
    if (!name || !target || !this.dispatched.has(name)) return;
    this.catchUp(name, target, this.resets).catch((error: unknown) =>
      this.deps.log?.error(error, 'cache follower: catch-up failed'),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const release = await this.listener?.catch(() => undefined);
    release?.();
  }
}
