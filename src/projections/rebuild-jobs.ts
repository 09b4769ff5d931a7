import type pg from 'pg';
import {
  lockRebuilds,
  rebuildProjection,
  type RebuildDeps,
  type RebuildProgress,
} from './rebuild.js';
import type { Projection } from './projection.js';

/** A rebuild's progress here; a failed one keeps its last figures and the error. */
type JobProgress =
  | RebuildProgress
  | (Omit<RebuildProgress, 'phase'> & { readonly phase: 'failed'; readonly error: string });

/** A long replay says how far it got this often, not on every batch. */
const progressLogMs = 10_000;

/** Rebuilds started through the admin API, with their progress for GET /admin/projections. */
export class RebuildJobs {
  private readonly jobs = new Map<string, JobProgress>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: RebuildDeps & { readonly pool: pg.Pool }) {}

  /** False when a rebuild of this projection is already running, here or in another process. */
  async start(projection: Projection): Promise<boolean> {
    const current = this.jobs.get(projection.name);
    if (current && current.phase !== 'done' && current.phase !== 'failed') return false;
    const lock = await lockRebuilds(this.deps.pool, [projection.name]);
    if (!lock) return false;
    this.jobs.set(projection.name, {
      projection: projection.name,
      applied: 0,
      total: undefined,
      eventsPerSecond: 0,
      phase: 'replaying',
    });
    const log = this.deps.log;
    const startedAt = Date.now();
    let loggedAt = startedAt;
    let loggedPhase: RebuildProgress['phase'] = 'replaying';
    log?.info(`rebuild of ${projection.name}: started`, { projection: projection.name });
    const job = rebuildProjection(this.deps, projection, (progress) => {
      this.jobs.set(projection.name, progress);
      const { applied, total, eventsPerSecond, phase } = progress;
      const fields = { projection: projection.name, phase, applied, total, eventsPerSecond };
      if (phase === 'done') {
        const seconds = (Date.now() - startedAt) / 1000;
        log?.info(`rebuild of ${projection.name}: done, ${applied} events in ${seconds} s`, {
          ...fields,
          seconds,
        });
      } else if (phase !== loggedPhase || Date.now() - loggedAt >= progressLogMs) {
        loggedAt = Date.now();
        loggedPhase = phase;
        log?.info(
          `rebuild of ${projection.name}: ${phase}, ${applied}${total === undefined ? '' : ` of ${total}`} events`,
          fields,
        );
      }
    })
      .catch((error: unknown) => {
        const last = this.jobs.get(projection.name)!;
        const message = error instanceof Error ? error.message : String(error);
        this.jobs.set(projection.name, { ...last, phase: 'failed', error: message });
        log?.info(`rebuild of ${projection.name}: failed: ${message}`, {
          projection: projection.name,
          applied: last.applied,
          error: message,
        });
      })
      .finally(() => lock.release());
    this.running.add(job);
    void job.finally(() => this.running.delete(job));
    return true;
  }

  progress(name: string) {
    return this.jobs.get(name);
  }

  /** Waits for running rebuilds (shutdown, tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.running]);
  }
}
