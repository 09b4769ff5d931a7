import pg from 'pg';
import type { Clock } from '../src/commands/clock.js';
import { loadConfig } from '../src/config.js';
import { startSystem, type System } from '../src/system.js';
import { simulatedMaxActive } from './queue-workload.js';
import { FaultyEventStore, type FaultProfile, type SimulatedProcess } from './faulty-store.js';

/** The database URL a simulated process connects with: its own application_name. */
export function processUrl(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

/**
 * The simulated API processes of one run, one alive at a time, on one database. Each has
 * its own pool whose connections carry a distinct application_name, so a crash can cut
 * exactly that process's backends (pg_terminate_backend: its advisory locks and open
 * transactions go as they would when a process dies), then drops all its in-memory state
 * (caches, runner) and starts a fresh process on the same database.
 */
export class SimulatedCluster {
  private systemNow: System | undefined;
  private storeNow: FaultyEventStore | undefined;
  private generation = 0;
  private restarting: Promise<void> = Promise.resolve();
  private readonly admin: pg.Client;
  /** Every system ever started: closeAll() makes sure none keeps a loop or a pool. */
  private readonly started: System[] = [];
  crashes = 0;
  faults = 0;

  constructor(
    private readonly options: {
      readonly databaseUrl: string;
      readonly name: string;
      readonly clock: Clock;
      readonly profile: () => FaultProfile;
    },
  ) {
    this.admin = new pg.Client({
      connectionString: processUrl(options.databaseUrl, `${options.name}-admin`),
    });
    this.admin.on('error', () => undefined);
  }

  get system(): System {
    return this.systemNow!;
  }

  get store(): FaultyEventStore {
    return this.storeNow!;
  }

  /** Resolves once no restart is in progress (operations wait for it before they start). */
  get ready(): Promise<void> {
    return this.restarting;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await this.startProcess();
  }

  private applicationName(): string {
    return `${this.options.name}-p${this.generation}`;
  }

  private async startProcess(): Promise<void> {
    this.generation++;
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: processUrl(this.options.databaseUrl, this.applicationName()),
      LOG_LEVEL: 'silent',
      DB_POOL_SIZE: '6',
      MAX_ACTIVE_TOKENS: String(simulatedMaxActive),
    });
    const system = await startSystem({ config, clock: this.options.clock, processes: false });
    this.started.push(system);
    const process: SimulatedProcess = { crashed: false };
    this.systemNow = system;
    this.storeNow = new FaultyEventStore(system.store, this.options.profile(), process);
    // A seeded crash point inside the store: the process dies wherever that call was.
    process.onCrash = () => void this.crash();
  }

  /** Crash the current process (idempotent while a restart is under way) and start a new one. */
  crash(): Promise<void> {
    const store = this.storeNow;
    if (!store || this.dying === store) return this.restarting;
    this.dying = store;
    store.crash();
    this.restarting = this.restart(this.systemNow!, store);
    return this.restarting;
  }

  private dying: FaultyEventStore | undefined;

  private async restart(system: System, store: FaultyEventStore): Promise<void> {
    this.crashes++;
    this.faults += store.injected.length;
    await this.admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [this.applicationName()],
    );
    await closeQuietly(system);
    await this.startProcess();
  }

  /** Faults injected by the live process so far (crashed ones are counted at their crash). */
  countFaults(): number {
    return this.faults + (this.storeNow?.injected.length ?? 0);
  }

  /** Backends still open for any process of this run but the live one (leaked pools). */
  async strayBackends(): Promise<number> {
    const { rows } = await this.admin.query<{ count: string }>(
      `SELECT count(*) AS count FROM pg_stat_activity
        WHERE application_name LIKE $1 AND application_name <> $2
          AND application_name <> $3`,
      [`${this.options.name}-p%`, this.applicationName(), `${this.options.name}-admin`],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async closeAll(): Promise<void> {
    await this.restarting.catch(() => undefined);
    for (const system of this.started) await closeQuietly(system);
    await this.admin.end().catch(() => undefined);
  }
}

const closed = new WeakSet<System>();

/** Stops every loop and pool of a system, whatever state its connections are in. */
async function closeQuietly(system: System): Promise<void> {
  if (closed.has(system)) return;
  closed.add(system);
  await system.close().catch(async () => {
    // close() stops at its first failure: stop the rest one by one.
    await system.runner.stop().catch(() => undefined);
    await system.store.close().catch(() => undefined);
    await system.pool.end().catch(() => undefined);
  });
}
