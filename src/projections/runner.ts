import { sql } from 'kysely';
import type pg from 'pg';
import { Subject, type Observable } from 'rxjs';
import { parseRecorded, type ParsedEvent } from '../events/domain-event.js';
import { sleep } from '../infrastructure/sleep.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { START, comparePositions, type EventStore, type Position } from '../events/store/port.js';
import type { Db } from './database.js';
import { applyParsed, runStatements, type Projection } from './projection.js';
import { intervals } from '../policies.js';

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

/** How often the leader confirms it still holds its lock (and how long it waits for the answer). */
const leadershipCheckMs = 2000;
/** rebuild.ts notifies here when it swaps tables in; the leader's caches drop everything. */
export const swapChannel = 'read_models_swapped';
/** The `applied` notice for a swap: LeaderCache clears on it whatever its projection. */
export const readModelsSwapped = '*';

class LeadershipLostError extends Error {
  override readonly name = 'LeadershipLostError';
  constructor(projection: string) {
    super(`the checkpoint of ${projection} is already past this batch: another process leads`);
  }
}

/**
 * Moves a checkpoint forward, never backwards: an old leader that lost its lock without
 * noticing cannot overwrite a newer leader's progress. False when the row was ahead.
 */
export async function saveCheckpoint(
  executor: Db,
  name: string,
  checkpoint: Position,
  eventsApplied: number,
): Promise<boolean> {
  const result = await executor
    .updateTable('projection_checkpoints')
    .set((eb) => ({
      commit_position: String(checkpoint.commit),
      prepare_position: String(checkpoint.prepare),
      events_applied: eb('events_applied', '+', eventsApplied),
      updated_at: new Date(),
    }))
    .where('name', '=', name)
    .where(
      sql<boolean>`(commit_position::numeric, prepare_position::numeric) <= (${String(checkpoint.commit)}::numeric, ${String(checkpoint.prepare)}::numeric)`,
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

const toPosition = (row: { commit_position: string; prepare_position: string }): Position => ({
  commit: BigInt(row.commit_position),
  prepare: BigInt(row.prepare_position),
});

/**
 * Runs every projection from its checkpoint. One process at a time runs them (an
 * advisory lock held on a dedicated connection); the others stand by and serve
 * read-your-writes waits from the persisted checkpoints.
 */
export class ProjectionRunner {
  private readonly progress = new Map<string, Position>();
  private readonly state = new Map<
    string,
    { status: ProjectionStatus['status']; lastError?: string }
  >();
  private readonly progressed = new Subject<void>();
  private readonly stopping = new AbortController();
  private leaderClient: pg.PoolClient | undefined;
  private leaderLost: AbortController | undefined;
  private running: Promise<void> | undefined;

  /** Emits whenever some projection moves forward in this process. */
  readonly changes: Observable<void> = this.progressed.asObservable();
  private readonly appliedBatches = new Subject<AppliedBatch>();
  /** Each batch right after it committed, before read-your-writes waiters see the new checkpoint. */
  readonly applied: Observable<AppliedBatch> = this.appliedBatches.asObservable();
  private leadership = 0;

  /** Changes every time this process becomes the leader: caches keyed by it never outlive a lapse. */
  get leaderEpoch(): number | undefined {
    return this.isLeader ? this.leadership : undefined;
  }

  constructor(private readonly deps: RunnerDeps) {}

  get isLeader(): boolean {
    return this.leaderClient !== undefined;
  }

  async init(): Promise<void> {
    const { db } = this.deps;
    await runStatements(db, [
      `CREATE TABLE IF NOT EXISTS projection_checkpoints (
         name text PRIMARY KEY,
         version int NOT NULL,
         commit_position text NOT NULL,
         prepare_position text NOT NULL,
         events_applied bigint NOT NULL DEFAULT 0,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
    ]);
    for (const projection of this.deps.projections) {
      await db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${advisoryLocks.projectionSetup})`.execute(trx);
        const row = await trx
          .selectFrom('projection_checkpoints')
          .selectAll()
          .where('name', '=', projection.name)
          .executeTakeFirst();
        if (row?.version === projection.version) return projection.init(trx);
        // A new version means a new shape: drop its tables and start over from the log.
        for (const table of projection.tables)
          await sql.raw(`DROP TABLE IF EXISTS ${table}`).execute(trx);
        await projection.init(trx);
        const start = {
          version: projection.version,
          commit_position: String(START.commit),
          prepare_position: String(START.prepare),
          events_applied: 0,
        };
        await trx
          .insertInto('projection_checkpoints')
          .values({ name: projection.name, ...start })
          .onConflict((conflict) => conflict.column('name').doUpdateSet(start))
          .execute();
      });
      this.state.set(projection.name, { status: 'standby' });
    }
    await this.refreshFromDatabase();
  }

  /** Competes for leadership until stopped; the leader runs all projections. */
  start(): void {
    this.running ??= this.lead();
  }

  private async lead(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const client = await this.deps.pool.connect().catch((error: unknown) => {
        this.deps.log?.error(error, 'projection runner: no connection; trying again');
        return undefined;
      });
      if (client) {
        const { rows } = await client
          .query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [leaderLockId])
          .catch((error: unknown) => {
            this.deps.log?.error(error, 'projection runner: could not ask for leadership');
            return { rows: [] };
          });
        if (rows[0]?.locked) {
          this.leaderClient = client;
          this.leadership++;
          const lost = new AbortController();
          this.leaderLost = lost;
          client.on('error', () => lost.abort());
          client.on('notification', (message) => {
            // A rebuild swapped tables in (maybe from the CLI in another process).
            if (message.channel === swapChannel)
              this.appliedBatches.next({ projection: readModelsSwapped, events: [] });
          });
          await client.query(`LISTEN ${swapChannel}`).catch(() => lost.abort());
          const checking = this.checkLeadership(client, lost);
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
          continue;
        }
        client.release();
      }
      await sleep(intervals.leadershipAttemptMs, signal);
    }
  }

  /**
   * The lock connection's 'error' event alone misses a silent partition: every few
   * seconds ask the server whether this session still holds the lock, and give up
   * leadership the moment the answer is no, an error, or late.
   */
  private async checkLeadership(client: pg.PoolClient, lost: AbortController): Promise<void> {
    while (!lost.signal.aborted) {
      await sleep(leadershipCheckMs, lost.signal);
      if (lost.signal.aborted) return;
      const timeout = new Promise<false>((resolve) =>
        setTimeout(() => resolve(false), leadershipCheckMs).unref(),
      );
      const held = await Promise.race([
        client
          .query<{ held: boolean }>(
            `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
               AND objid = $1 AND objsubid = 1 AND pid = pg_backend_pid() AND granted) AS held`,
            [leaderLockId],
          )
          .then(({ rows }) => rows[0]?.held === true)
          .catch(() => false),
        timeout,
      ]);
      if (!held) {
        this.deps.log?.info('projection runner: leadership in doubt; stepping down');
        lost.abort();
      }
    }
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
          if (events.length > 0) {
            // The read-model change and the checkpoint commit together, so a crash
            // between them cannot apply a batch twice or lose one; a checkpoint that
            // another leader already moved past rolls the batch back.
            await db.transaction().execute(async (trx) => {
              await applyParsed(projection, events, trx);
              await save(trx);
            });
            persistedAt = Date.now();
          } else if (Date.now() - persistedAt >= heartbeatPersistMs) {
            await save(db);
            persistedAt = Date.now();
          }
          // Caches of this read model drop what changed before any waiter is released.
          if (events.length > 0) this.appliedBatches.next({ projection: projection.name, events });
          this.advance(projection.name, batch.checkpoint);
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

  private advance(name: string, checkpoint: Position): void {
    const known = this.progress.get(name);
    if (!known || comparePositions(checkpoint, known) > 0) {
      this.progress.set(name, checkpoint);
      this.progressed.next();
    }
  }

  private async refreshFromDatabase(): Promise<void> {
    const rows = await this.deps.db.selectFrom('projection_checkpoints').selectAll().execute();
    for (const row of rows) this.advance(row.name, toPosition(row));
  }

  /**
   * Read-your-writes: resolves true once every projection that reads one of the written
   * event types has passed the written position, or false after `timeoutMs`.
   */
  async waitFor(written: Written, timeoutMs: number): Promise<boolean> {
    const position = written.position;
    if (!position) return true;
    const relevant = this.deps.projections.filter((projection) =>
      projection.handles.some((type) => written.eventTypes.includes(type)),
    );
    const reached = () =>
      relevant.every((projection) => {
        const checkpoint = this.progress.get(projection.name);
        return checkpoint !== undefined && comparePositions(checkpoint, position) >= 0;
      });
    if (reached()) return true;
    return new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (result: boolean) => {
        if (done) return;
        done = true;
        this.waiting--;
        subscription.unsubscribe();
        clearTimeout(timer);
        resolve(result);
      };
      const subscription = this.progressed.subscribe(() => {
        if (reached()) finish(true);
      });
      const timer = setTimeout(() => finish(reached()), timeoutMs);
      this.waiting++;
      this.followPersistedCheckpoints();
    });
  }

  private waiting = 0;
  private following = false;

  /**
   * When another process runs the projections, one loop per process (however many
   * requests wait) reads the persisted checkpoints every 10 ms while any wait is open.
   */
  private followPersistedCheckpoints(): void {
    if (this.isLeader || this.following) return;
    this.following = true;
    void (async () => {
      while (!this.isLeader && this.waiting > 0 && !this.stopping.signal.aborted) {
        await this.refreshFromDatabase().catch((error: unknown) =>
          this.deps.log?.error(error, 'projection runner: could not read checkpoints'),
        );
        await sleep(intervals.followCheckpointsMs);
      }
      this.following = false;
    })();
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
      if (row && !this.isLeader) this.advance(row.name, toPosition(row));
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
    this.progressed.complete();
    await this.running;
  }
}
