import path from 'node:path';
import type pg from 'pg';
import type { Clock } from './commands/clock.js';
import { startProcesses } from './commands/processes.js';
import { ensureQueueConfigured, firstQueueSettings } from './commands/queue-settings.js';
import type { Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './events/store/embedded.js';
import { EventStoreDbStore } from './events/store/esdb/store.js';
import { createPool } from './infrastructure/pool.js';
import { PostgresEventStore } from './events/store/postgres/store.js';
import type { EventStore } from './events/store/port.js';
import { createDb, type Db } from './projections/database.js';
import { projections } from './projections/index.js';
import { ProjectionRunner } from './projections/runner.js';
import { warmSeatStreams } from './commands/warm-streams.js';
import { intervals } from './policies.js';

export interface Logger {
  /** `fields`: structured context (counts, ids) that a log collector can query. */
  info(message: string, fields?: Record<string, unknown>): void;
  error(error: unknown, message: string): void;
}

/** Everything the API, the CLI and the tests share; built once by the composition root. */
export interface System {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: EventStore;
  readonly pool: pg.Pool;
  readonly db: Db;
  readonly runner: ProjectionRunner;
  readonly databaseUrl: string;
  close(): Promise<void>;
}

export interface StartSystemOptions {
  readonly config: Config;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Compete to run the projections here (default true). */
  readonly projections?: boolean;
  /** Run admission, hold expiry and payment recovery here (default true). */
  readonly processes?: boolean;
  readonly paymentRecoveryIntervalMs?: number;
}

/**
 * Starts the parts in order (database, store, read models, projections, processes) and
 * returns a close() that stops them in reverse.
 */
export async function startSystem(options: StartSystemOptions): Promise<System> {
  const { config, log } = options;
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: dataDirectory(config),
      port: config.EMBEDDED_PG_PORT,
      relocateIfUnreachable: config.DATA_DIR === undefined,
      log: (line) => log?.info(line),
    });
    databaseUrl = embedded.url;
    log?.info(await describeEmbedded(embedded, config));
  }
  try {
    return await startOnDatabase(options, databaseUrl, embedded);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/** Where this process keeps its local files (the embedded cluster, the admin key). */
export const dataDirectory = (config: Config) => path.resolve(config.DATA_DIR ?? './.data');

async function describeEmbedded(embedded: EmbeddedPostgres, config: Config): Promise<string> {
  const where = `embedded PostgreSQL pid ${embedded.pid} on 127.0.0.1:${embedded.port}, data in ${embedded.clusterDir}`;
  const relocated = path.dirname(embedded.clusterDir) !== dataDirectory(config);
  const why = relocated
    ? ` (the postgres user cannot reach ${dataDirectory(config)}, so the cluster lives there)`
    : '';
  if (embedded.how === 'started') return `started ${where}${why}`;
  const others = await embedded.usedBy();
  const port =
    embedded.port === config.EMBEDDED_PG_PORT
      ? ''
      : ` (its port from postmaster.pid, not EMBEDDED_PG_PORT=${config.EMBEDDED_PG_PORT})`;
  const owner =
    others.length > 0
      ? `shared with pid ${others.join(', ')}`
      : 'its previous owner is gone: this process stops it on shutdown';
  return `joined the running ${where}${why}${port}; ${owner}`;
}

async function startOnDatabase(
  options: StartSystemOptions,
  databaseUrl: string,
  embedded: EmbeddedPostgres | undefined,
): Promise<System> {
  const { config, clock, log } = options;
  const pool = createPool(databaseUrl, config.DB_POOL_SIZE);
  const store: EventStore = config.EVENTSTORE_URL
    ? EventStoreDbStore.connect(config.EVENTSTORE_URL)
    : await PostgresEventStore.create(pool);
  const db = createDb(pool);
  const runner = new ProjectionRunner({ store, db, pool, projections, ...(log ? { log } : {}) });
  await runner.init();
  const warming = warmSeatStreams(runner, store);
  // The queue's first settings enter the log before any token does, so a pre-queue from
  // the environment starts before the first join.
  const overridden = await ensureQueueConfigured({
    store,
    clock,
    firstQueueSettings: firstQueueSettings(config),
  });
  if (overridden.length > 0)
    log?.info(
      `queue settings come from the stream "queue", not the environment: ${overridden.join(', ')}; ` +
        'the environment gives first values only, change them with PATCH /admin/queue',
      { overridden },
    );

  let processes: { stop(): Promise<void> } | undefined;
  if (options.projections !== false) runner.start();
  if (options.processes !== false) {
    processes = startProcesses(
      {
        store,
        db,
        pool,
        clock,
        runner,
        maxActiveTokens: config.MAX_ACTIVE_TOKENS,
        tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
        firstQueueSettings: firstQueueSettings(config),
      },
      {
        admissionIntervalMs: config.ADMISSION_INTERVAL_MS,
        holdExpiryIntervalMs: config.HOLD_EXPIRY_INTERVAL_MS,
        paymentRecoveryIntervalMs: options.paymentRecoveryIntervalMs ?? intervals.paymentRecoveryMs,
        recoverPaymentsAfterMs: config.PAYMENT_RECOVERY_AFTER_SECONDS * 1000,
        ...(log ? { log } : {}),
      },
    );
  }

  return {
    config,
    clock,
    store,
    pool,
    db,
    runner,
    databaseUrl,
    close: async () => {
      await processes?.stop();
      await runner.stop();
      warming.unsubscribe();
      await store.close();
      await db.destroy();
      // Stopped whether or not anyone logs it (an optional call skips its arguments).
      if (embedded) {
        const stopped = await embedded.stop();
        log?.info(`embedded database: ${stopped}`);
      }
    },
  };
}
