import { loadConfig } from '../../src/config.js';
import { startSystem, type Logger, type System } from '../../src/system.js';
import { projections } from '../../src/projections/index.js';
import { verifyReadModels } from '../../src/projections/verify.js';
import { createTestDatabase } from './database.js';

/** A clock the test moves by hand. */
export class TestClock {
  private now: number;
  constructor(start = Date.parse('2030-01-02T00:00:00.000Z')) {
    this.now = start;
  }
  readonly clock = () => new Date(this.now);
  advance(seconds: number): void {
    this.now += seconds * 1000;
  }
  set(iso: string): void {
    this.now = Date.parse(iso);
  }
}

export type TestSystem = System & { testClock: TestClock; drop(): Promise<void> };

/**
 * The real system (PostgreSQL store, projections) on a fresh database. Background
 * processes are off unless asked for: tests run their rounds by hand.
 */
export async function startTestSystem(
  env: Record<string, string> = {},
  options: { processes?: boolean; clock?: TestClock; log?: Logger } = {},
): Promise<TestSystem> {
  const database = await createTestDatabase();
  const testClock = options.clock ?? new TestClock();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    ADMIN_API_KEY: 'test-admin-key-0123456789',
    DB_POOL_SIZE: '30',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const system = await startSystem({
    config,
    clock: testClock.clock,
    processes: options.processes ?? false,
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    ...system,
    testClock,
    drop: async () => {
      await system.close();
      await database.drop();
    },
  };
}

/** Waits until the projections have applied everything in the log so far (read models current). */
export async function settleProjections(system: Pick<System, 'store' | 'runner'>): Promise<void> {
  const position = await system.store.headPosition();
  const caughtUp = await system.runner.waitFor(
    { position, eventTypes: system.runner.handledEventTypes() },
    30_000,
  );
  if (!caughtUp) throw new Error('projections did not catch up within 30 s');
}

/** A second process on the leader's database that never leads: it serves queries only. */
export function startStandby(leader: TestSystem): Promise<System> {
  return startSystem({
    config: loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: leader.databaseUrl,
      LOG_LEVEL: 'silent',
      DB_POOL_SIZE: '5',
    }),
    clock: leader.clock,
    projections: false,
    processes: false,
  });
}

/** What `verify` finds between the live read models and a fresh replay of the log. */
export function readModelDifferences(system: System) {
  return verifyReadModels({
    ...system,
    projections,
    waitForProjections: (position) =>
      system.runner.waitFor({ position, eventTypes: system.runner.handledEventTypes() }, 10_000),
  });
}
