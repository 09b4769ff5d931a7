import type pg from 'pg';
import { Subject, type Observable } from 'rxjs';
import { parseRecorded, type ParsedEvent } from '../events/domain-event.js';
import { sleep } from '../infrastructure/sleep.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { START, type EventStore, type LogBatch, type Position } from '../events/store/port.js';
import type { Db } from './database.js';
import { applyParsed, type Projection } from './projection.js';
import { intervals } from '../policies.js';
import { LeadershipLostError, initProjections, saveCheckpoint, toPosition } from './checkpoints.js';
import { checkLeadership, tryLeadership } from './leadership.js';
import { ProjectionProgress } from './progress.js';
import { CacheFollower, nextEpoch } from './cache-follower.js';

export { saveCheckpoint } from './checkpoints.js';

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
    await Promise.all(
      this.deps.projections.map((projection) => this.runProjection(projection, both)),
    );
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

  private async runProjection(projection: Projection, signal: AbortSignal): Promise<void> {
    const { db, store } = this.deps;
    while (!signal.aborted) {
      try {
        const row = await db
          .selectFrom('projection_checkpoints')
          .selectAll()
          .where('name', '=', projection.name)
          .executeTakeFirstOrThrow();
        let persistedAt = Date.now();
        this.state.set(projection.name, { status: 'running' });
        for await (const batch of store.streamAll({
          fromPosition: toPosition(row),
          filter: { eventTypes: projection.handles },
          batchSize,
          signal,
        })) {
          // Leadership in doubt: apply nothing more (another process may lead by now).
          if (signal.aborted) break;
          const heartbeat = Date.now() - persistedAt >= heartbeatPersistMs;
          if (await this.applyBatch(projection, batch, heartbeat)) persistedAt = Date.now();
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof LeadershipLostError) {
          this.deps.log?.error(error, 'projection runner: another leader is ahead; stepping down');
          this.leaderLost?.abort();
          break;
        }
        this.state.set(projection.name, {
          status: 'failing',
          lastError: error instanceof Error ? error.message : String(error),
        });
        this.deps.log?.error(
          error,
          `projection ${projection.name} failed; retrying from its checkpoint`,
        );
        await sleep(intervals.projectionRetryMs, signal);
      }
    }
    this.state.set(projection.name, { status: 'stopped' });
  }

  /**
   * Applies one batch with its checkpoint, or persists an empty batch's checkpoint when
   * `heartbeat` says it is time; true when the checkpoint was persisted.
   */
  private async applyBatch(
    projection: Projection,
    batch: LogBatch,
    heartbeat: boolean,
  ): Promise<boolean> {
    const { db } = this.deps;
    const save = async (executor: Db) => {
      const saved = await saveCheckpoint(
        executor,
        projection.name,
        batch.checkpoint,
        batch.events.length,
      );
      if (!saved) throw new LeadershipLostError(projection.name);
    };
    // Parsed once here: the projection and the caches of its read model share them.
    const events = batch.events.map(parseRecorded);
    let persisted = false;
    if (events.length > 0) {
      // The read-model change and the checkpoint commit together, so a crash between
      // them cannot apply a batch twice or lose one; a checkpoint that another leader
      // already moved past rolls the batch back.
      const done = db.transaction().execute(async (trx) => {
        await applyParsed(projection, events, trx);
        await save(trx);
      });
      // Before the commit: another process may see it (and answer its 2xx) before `applied`.
      this.applyingBatches.next({ projection: projection.name, events, done });
      await done;
      persisted = true;
    } else if (heartbeat) {
      await save(db);
      persisted = true;
    }
    // Caches of this read model drop what changed before any waiter is released.
    if (events.length > 0) this.appliedBatches.next({ projection: projection.name, events });
    this.progress.advance(projection.name, batch.checkpoint);
    return persisted;
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
