import type pg from 'pg';
import { Subject, type Observable } from 'rxjs';
import { parseRecorded, type ParsedEvent } from '../events/domain-event.js';
import { sleep } from '../infrastructure/sleep.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import {
  START,
  comparePositions,
  type EventStore,
  type LogBatch,
  type Position,
  type RecordedEvent,
} from '../events/store/port.js';
import type { Db } from './database.js';
import { readsType, type Projection } from './projection.js';
import { intervals } from '../policies.js';
import {
  LeadershipLostError,
  initProjections,
  saveCheckpoints,
  toPosition,
} from './checkpoints.js';
import { checkLeadership, tryLeadership } from './leadership.js';
import { ProjectionProgress } from './progress.js';
import { CacheFollower, nextEpoch } from './cache-follower.js';

export interface ProjectionStatus {
  readonly name: string;
  readonly version: number;
  readonly checkpoint: Position;
  readonly eventsApplied: number;
  readonly status: 'running' | 'standby' | 'failing' | 'stopped';
  readonly lastError?: string;
}

/** A batch a projection committed, its events parsed. */
export interface AppliedBatch {
  readonly projection: string;
  readonly events: readonly ParsedEvent[];
}

/** What a command wrote (commands/written.ts builds it): its last position and event types. */
export interface Written {
  readonly position: Position | undefined;
  readonly eventTypes: readonly string[];
}

interface RunnerDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly pool: pg.Pool;
  readonly projections: readonly Projection[];
  readonly log?: { info(message: string): void; error(error: unknown, message: string): void };
}

/** A projection in a running group: how far it has applied, and when that was persisted. */
interface Member {
  readonly projection: Projection;
  at: Position;
  persistedAt: number;
}

/** A batch's event parsed, or why it could not be. */
type Entry =
  | { readonly recorded: RecordedEvent; readonly event: ParsedEvent; readonly error?: undefined }
  | { readonly recorded: RecordedEvent; readonly event?: undefined; readonly error: unknown };

function parseEntry(recorded: RecordedEvent): Entry {
  try {
    return { recorded, event: parseRecorded(recorded) };
  } catch (error) {
    return { recorded, error };
  }
}

const leaderLockId = advisoryLocks.projectionLeader;
const batchSize = 500;
/** Empty batches only move the checkpoint; persist those at most this often. */
const heartbeatPersistMs = 250;

/** rebuild.ts notifies here when it swaps tables in; the leader's caches drop everything. */
export const swapChannel = 'read_models_swapped';
/** The `applied` notice for a swap: LeaderCache clears on it whatever its projection. */
export const readModelsSwapped = '*';

/**
 * Runs every projection from its checkpoint. One process at a time runs them (an
 * advisory lock held on a dedicated connection); the others stand by and serve
 * read-your-writes waits from the persisted checkpoints.
 */
export class ProjectionRunner {
  private readonly state = new Map<
    string,
    { status: ProjectionStatus['status']; lastError?: string }
  >();
  private readonly stopping = new AbortController();
  private readonly progress: ProjectionProgress;
  /** Keeps this process's caches current while another process leads. */
  readonly follower: CacheFollower;
  private leaderClient: pg.PoolClient | undefined;
  private leaderLost: AbortController | undefined;
  private running: Promise<void> | undefined;

  /** Emits whenever some projection moves forward in this process. */
  readonly changes: Observable<void>;
  private readonly appliedBatches = new Subject<AppliedBatch>();
  /** Each batch right after it committed, before read-your-writes waiters see the new checkpoint. */
  readonly applied: Observable<AppliedBatch> = this.appliedBatches.asObservable();
  private readonly applyingBatches = new Subject<AppliedBatch & { done: Promise<unknown> }>();
  /** Each batch as its transaction starts, with its end: nothing loaded meanwhile is kept. */
  readonly applying = this.applyingBatches.asObservable();
  private leadership = 0;

  /** Changes with each spell of leading or following: cache entries never outlive one. */
  get cacheEpoch(): number | undefined {
    return this.isLeader ? this.leadership : this.follower.epoch;
  }

  constructor(private readonly deps: RunnerDeps) {
    this.progress = new ProjectionProgress({
      isLeader: () => this.isLeader,
      refresh: () => this.refreshFromDatabase(),
      stopped: this.stopping.signal,
      log: deps.log,
    });
    this.changes = this.progress.changes;
    this.follower = new CacheFollower({
      db: deps.db,
      pool: deps.pool,
      store: deps.store,
      emit: (batch) => this.appliedBatches.next(batch),
      clearAll: readModelsSwapped,
      ...(deps.log ? { log: deps.log } : {}),
    });
  }

  get isLeader(): boolean {
    return this.leaderClient !== undefined;
  }

  async init(): Promise<void> {
    await initProjections(this.deps.db, this.deps.projections);
    for (const projection of this.deps.projections)
      this.state.set(projection.name, { status: 'standby' });
    await this.refreshFromDatabase();
  }

  /** Competes for leadership until stopped; the leader runs all projections. */
  start(): void {
    this.running ??= this.lead();
  }

  private async lead(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const client = await tryLeadership(this.deps.pool, leaderLockId, this.deps.log);
      if (client) {
        await this.leadWith(client, signal);
        continue;
      }
      await sleep(intervals.leadershipAttemptMs, signal);
    }
  }

  /** Runs every projection while `client` holds the leader lock, then lets go of it. */
  private async leadWith(client: pg.PoolClient, signal: AbortSignal): Promise<void> {
    this.leaderClient = client;
    this.leadership = nextEpoch();
    this.follower.reset();
    const lost = new AbortController();
    this.leaderLost = lost;
    client.on('error', () => lost.abort());
    client.on('notification', (message) => {
      // A rebuild swapped tables in (maybe from the CLI in another process).
      if (message.channel === swapChannel)
        this.appliedBatches.next({ projection: readModelsSwapped, events: [] });
    });
    await client.query(`LISTEN ${swapChannel}`).catch(() => lost.abort());
    const checking = checkLeadership(client, leaderLockId, lost, this.deps.log);
    const both = AbortSignal.any([signal, lost.signal]);
    this.deps.log?.info('projection runner: leading');
    await this.runAll(both);
    lost.abort();
    await checking;
    this.leaderClient = undefined;
    this.leaderLost = undefined;
    await client
      .query('SELECT pg_advisory_unlock($1)', [leaderLockId])
      // A lost connection has released the lock already.
      .catch(() => undefined);
    client.release(lost.signal.aborted);
  }

  /**
   * Projections run as one group: one log read and one transaction per batch for all of
   * them (docs/read-side.md). A projection whose apply fails leaves the group and retries
   * alone from its checkpoint, holding back no other; once it has caught up it rejoins.
   */
  private async runAll(signal: AbortSignal): Promise<void> {
    const members = new Set(this.deps.projections);
    const alone = new Set<Promise<void>>();
    let regroup = new AbortController();
    const detach = (projection: Projection) => {
      members.delete(projection);
      const run = sleep(intervals.projectionRetryMs, signal)
        .then(() => this.runGroup([projection], signal, { untilCaughtUp: true }))
        .then((outcome) => {
          if (outcome !== 'caught-up') return;
          members.add(projection);
          regroup.abort();
        });
      alone.add(run);
      void run.finally(() => alone.delete(run));
    };
    while (!signal.aborted) {
      regroup = new AbortController();
      const group = [...members];
      const both = AbortSignal.any([signal, regroup.signal]);
      if (group.length === 0) {
        await sleep(2 ** 31 - 1, both);
        continue;
      }
      const outcome = await this.runGroup(group, both);
      if (typeof outcome === 'object') detach(outcome.detached);
    }
    await Promise.all(alone);
  }

  /**
   * Runs `projections` from their checkpoints over one log read until `signal` aborts.
   * Ends early with the member that failed (its events did not parse or its apply threw)
   * when it is one of several, or with 'caught-up' after the first batch that reached
   * the log's end when `untilCaughtUp`. Any other failure marks every member failing and
   * retries.
   */
  private async runGroup(
    projections: readonly Projection[],
    signal: AbortSignal,
    options: { untilCaughtUp?: boolean } = {},
  ): Promise<'stopped' | 'caught-up' | { detached: Projection }> {
    const { db, store } = this.deps;
    const names = projections.map((projection) => projection.name);
    const eventTypes = [...new Set(projections.flatMap((projection) => projection.handles))];
    while (!signal.aborted) {
      try {
        const rows = await db
          .selectFrom('projection_checkpoints')
          .selectAll()
          .where('name', 'in', names)
          .execute();
        const members = projections.map((projection): Member => {
          const row = rows.find((candidate) => candidate.name === projection.name);
          if (!row) throw new Error(`projection ${projection.name} has no checkpoint row`);
          return { projection, at: toPosition(row), persistedAt: Date.now() };
        });
        const from = members
          .map((member) => member.at)
          .reduce((low, at) => (comparePositions(at, low) < 0 ? at : low));
        if (!options.untilCaughtUp) for (const name of names) this.setRunning(name);
        for await (const batch of store.streamAll({
          fromPosition: from,
          filter: { eventTypes },
          batchSize,
          signal,
        })) {
          // Leadership in doubt: apply nothing more (another process may lead by now).
          if (signal.aborted) break;
          const failed = await this.applyBatch(members, batch);
          if (failed) {
            if (members.length === 1) throw failed.error;
            this.markFailing([failed.projection.name], failed.error);
            return { detached: failed.projection };
          }
          if (options.untilCaughtUp) {
            for (const name of names) this.setRunning(name);
            if (batch.events.length < batchSize) return 'caught-up';
          }
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof LeadershipLostError) {
          this.deps.log?.error(error, 'projection runner: another leader is ahead; stepping down');
          this.leaderLost?.abort();
          break;
        }
        this.markFailing(names, error);
        await sleep(intervals.projectionRetryMs, signal);
      }
    }
    return 'stopped';
  }

  private setRunning(name: string): void {
    this.state.set(name, { status: 'running' });
  }

  private markFailing(names: readonly string[], error: unknown): void {
    const lastError = error instanceof Error ? error.message : String(error);
    for (const name of names) {
      this.state.set(name, { status: 'failing', lastError });
      this.deps.log?.error(error, `projection ${name} failed; retrying from its checkpoint`);
    }
  }

  /**
   * Applies one batch to every member it moves, in one transaction with their
   * checkpoints; a member with nothing to apply persists its moved checkpoint only when
   * its heartbeat is due. Returns a member whose events do not parse or whose apply failed
   * (nothing committed then).
   */
  private async applyBatch(
    members: Member[],
    batch: LogBatch,
  ): Promise<{ projection: Projection; error: unknown } | undefined> {
    const { db } = this.deps;
    // Parsed once here: the projections and the caches of their read models share them.
    const entries = batch.events.map(parseEntry);
    const now = Date.now();
    const moved = members
      .filter((member) => comparePositions(batch.checkpoint, member.at) > 0)
      .map((member) => ({
        member,
        entries: entries.filter(
          ({ recorded }) =>
            readsType(member.projection, recorded.type) &&
            comparePositions(recorded.position, member.at) > 0,
        ),
      }));
    // An event that does not parse fails the projections that read it, not the others.
    for (const { member, entries: mine } of moved) {
      const unreadable = mine.find((entry) => entry.event === undefined);
      if (unreadable) return { projection: member.projection, error: unreadable.error };
    }
    const parts = moved.map(({ member, entries: mine }) => ({
      member,
      events: mine.flatMap((entry) => (entry.event ? [entry.event] : [])),
    }));
    const applying = parts.filter((part) => part.events.length > 0);
    const saving = parts.filter(
      (part) => part.events.length > 0 || now - part.member.persistedAt >= heartbeatPersistMs,
    );
    const save = async (executor: Db) => {
      const ahead = await saveCheckpoints(
        executor,
        saving.map((part) => ({
          name: part.member.projection.name,
          eventsApplied: part.events.length,
        })),
        batch.checkpoint,
      );
      if (ahead.length > 0) throw new LeadershipLostError(ahead.join(', '));
    };
    if (applying.length > 0) {
      const failed: { projection?: Projection; error?: unknown } = {};
      // The read-model changes and the checkpoints commit together, so a crash between
      // them cannot apply a batch twice or lose one; a checkpoint that another leader
      // already moved past rolls the batch back.
      const done = db.transaction().execute(async (trx) => {
        for (const part of applying) {
          try {
            await part.member.projection.apply(part.events, trx);
          } catch (error) {
            failed.projection = part.member.projection;
            failed.error = error;
            throw error;
          }
        }
        await save(trx);
      });
      // Before the commit: another process may see it (and answer its 2xx) before `applied`.
      for (const part of applying)
        this.applyingBatches.next({
          projection: part.member.projection.name,
          events: part.events,
          done,
        });
      try {
        await done;
      } catch (error) {
        if (failed.projection) return { projection: failed.projection, error: failed.error };
        throw error;
      }
    } else if (saving.length > 0) {
      await save(db);
    }
    for (const part of saving) part.member.persistedAt = now;
    // Caches of these read models drop what changed before any waiter is released.
    for (const part of applying)
      this.appliedBatches.next({ projection: part.member.projection.name, events: part.events });
    for (const part of parts) {
      part.member.at = batch.checkpoint;
      this.progress.advance(part.member.projection.name, batch.checkpoint);
    }
    return undefined;
  }

  private async refreshFromDatabase(): Promise<void> {
    const rows = await this.deps.db.selectFrom('projection_checkpoints').selectAll().execute();
    for (const row of rows) this.progress.advance(row.name, toPosition(row));
  }

  /**
   * Read-your-writes: resolves true once every projection that reads one of the written
   * event types has passed the written position, or false after `timeoutMs`.
   */
  async waitFor(written: Written, timeoutMs: number): Promise<boolean> {
    const position = written.position;
    if (!position) return true;
    const relevant = this.deps.projections
      .filter((projection) => projection.handles.some((type) => written.eventTypes.includes(type)))
      .map((projection) => projection.name);
    return this.progress.waitFor(relevant, position, timeoutMs);
  }

  /** Every event type some projection reads (a wait for all of them covers every read model). */
  handledEventTypes(): string[] {
    return [...new Set(this.deps.projections.flatMap((projection) => projection.handles))];
  }

  async statuses(): Promise<ProjectionStatus[]> {
    const rows = await this.deps.db.selectFrom('projection_checkpoints').selectAll().execute();
    return this.deps.projections.map((projection) => {
      const row = rows.find((candidate) => candidate.name === projection.name);
      // A standby learns progress from the persisted checkpoints; these rows are read anyway.
      if (row && !this.isLeader) this.progress.advance(row.name, toPosition(row));
      const state = this.state.get(projection.name) ?? { status: 'standby' as const };
      return {
        name: projection.name,
        version: projection.version,
        checkpoint: this.progress.get(projection.name) ?? (row ? toPosition(row) : START),
        eventsApplied: row?.events_applied ?? 0,
        status: this.isLeader ? state.status : 'standby',
        ...(state.lastError ? { lastError: state.lastError } : {}),
      };
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.progress.complete();
    await this.running;
    await this.follower.close();
  }
}
