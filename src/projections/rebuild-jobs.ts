import { rebuildProjection, type RebuildDeps, type RebuildProgress } from './rebuild.js';
import type { Projection } from './projection.js';

/** A long replay says how far it got this often, not on every batch. */
const progressLogMs = 10_000;

/** Rebuilds started through the admin API, with their progress for GET /admin/projections. */
export class RebuildJobs {
  private readonly jobs = new Map<string, RebuildProgress & { error?: string }>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: RebuildDeps) {}

  /** False when a rebuild of this projection is already running here. */
  start(projection: Projection): boolean {
    const current = this.jobs.get(projection.name);
    if (current && current.phase !== 'done' && current.error === undefined) return false;
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
    }).catch((error: unknown) => {
      const last = this.jobs.get(projection.name)!;
      const message = error instanceof Error ? error.message : String(error);
      this.jobs.set(projection.name, { ...last, error: message });
      log?.info(`rebuild of ${projection.name}: failed: ${message}`, {
        projection: projection.name,
        applied: last.applied,
        error: message,
      });
    });
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
