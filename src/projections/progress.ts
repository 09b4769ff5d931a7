import { Subject, type Observable } from 'rxjs';
import { sleep } from '../infrastructure/sleep.js';
import { comparePositions, type Position } from '../events/store/port.js';
import { intervals } from '../policies.js';

interface ProgressDeps {
  /** The leader learns progress as it applies; a standby reads the persisted checkpoints. */
  readonly isLeader: () => boolean;
  readonly refresh: () => Promise<void>;
  readonly stopped: AbortSignal;
  readonly log?: { error(error: unknown, message: string): void };
}

/** Each projection's known checkpoint in this process, and waits for them to pass a position. */
export class ProjectionProgress {
  private readonly checkpoints = new Map<string, Position>();
  private readonly progressed = new Subject<void>();
  private waiting = 0;
  private following = false;
  /** Emits whenever some projection moves forward in this process. */
  readonly changes: Observable<void> = this.progressed.asObservable();

  constructor(private readonly deps: ProgressDeps) {}

  get(name: string): Position | undefined {
    return this.checkpoints.get(name);
  }

  advance(name: string, checkpoint: Position): void {
    const known = this.checkpoints.get(name);
    if (!known || comparePositions(checkpoint, known) > 0) {
      this.checkpoints.set(name, checkpoint);
      this.progressed.next();
    }
  }

  /** Resolves true once every named projection has passed `position`, or false after `timeoutMs`. */
  waitFor(names: readonly string[], position: Position, timeoutMs: number): Promise<boolean> {
    const reached = () =>
      names.every((name) => {
        const checkpoint = this.checkpoints.get(name);
        return checkpoint !== undefined && comparePositions(checkpoint, position) >= 0;
      });
    if (reached()) return Promise.resolve(true);
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

  /**
   * When another process runs the projections, one loop per process (however many
   * requests wait) reads the persisted checkpoints every 10 ms while any wait is open.
   */
  private followPersistedCheckpoints(): void {
    if (this.deps.isLeader() || this.following) return;
    this.following = true;
    void (async () => {
      while (!this.deps.isLeader() && this.waiting > 0 && !this.deps.stopped.aborted) {
        await this.deps
          .refresh()
          .catch((error: unknown) =>
            this.deps.log?.error(error, 'projection runner: could not read checkpoints'),
          );
        await sleep(intervals.followCheckpointsMs);
      }
      this.following = false;
    })();
  }

  complete(): void {
    this.progressed.complete();
  }
}
