import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { OperatorError, exitCodes } from '../../../operator-error.js';
import type { PostgresBinaries } from './binaries.js';
import type { PostgresUser } from './postgres-user.js';
import { processIdentity, runningPostmaster, type Postmaster } from './processes.js';

export const superuser = 'postgres';
export const superuserPassword = 'password';

/** Through the server's Unix socket when it has one (cheaper than loopback TCP), else TCP. */
export const serverUrl = (server: Pick<Postmaster, 'port' | 'socketDir'>, database: string) =>
  `postgres://${superuser}:${superuserPassword}@127.0.0.1:${server.port}/${encodeURIComponent(database)}` +
  (server.socketDir ? `?host=${encodeURIComponent(server.socketDir)}` : '');

/**
 * The socket directory a server on `port` can use: its cluster directory, unless the
 * socket's path would pass the kernel's limit (107 bytes), when it listens on TCP only.
 */
export function socketDirectory(clusterDir: string, port: number): string | undefined {
  return Buffer.byteLength(path.join(clusterDir, `.s.PGSQL.${port}`)) <= 107
    ? clusterDir
    : undefined;
}

/**
 * Whether the server on `port` accepts us and runs on `clusterDir`: another cluster of
 * ours on that port (same password) must never be taken for this one.
 */
export async function answersFor(port: number, clusterDir: string): Promise<boolean> {
  const client = new pg.Client({
    // Over TCP: this asks who answers on the port.
    connectionString: serverUrl({ port }, 'postgres'),
    connectionTimeoutMillis: 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    return path.resolve(rows[0]!.data_directory) === path.resolve(clusterDir);
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// Messages in English whatever the machine's locale: they are matched below.
const environment = () => ({ ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' });
const ids = (user: PostgresUser | undefined) => (user ? { uid: user.uid, gid: user.gid } : {});

/**
 * Creates the cluster. initdb runs in a directory of this process's own beside it, which
 * is then renamed into place: processes starting at the same moment on an empty data
 * directory never initialise the same directory, and the cluster appears whole or not at
 * all (the loser of the rename keeps the winner's). The superuser password goes through a
 * file initdb reads: written into the cluster's parent directory (never /tmp), readable
 * only by the server's user, and removed on every exit path (a killed run's too).
 */
export async function initialiseCluster(
  binaries: PostgresBinaries,
  clusterDir: string,
  user: PostgresUser | undefined,
): Promise<void> {
  const base = path.dirname(clusterDir);
  // What a killed run left: its password file, its half-made directory.
  for (const name of await readdir(base)) {
    const owner = /^(?:\.pg-password-|pg\.init-)(\d+)$/.exec(name);
    if (owner && processIdentity(Number(owner[1])) === undefined)
      await rm(path.join(base, name), { recursive: true, force: true });
  }
  const building = path.join(base, `pg.init-${process.pid}`);
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { mode: 0o700 });
  const passwordFile = path.join(base, `.pg-password-${process.pid}`);
  await writeFile(passwordFile, `${superuserPassword}\n`, { mode: 0o600 });
  if (user) await chown(building, user.uid, user.gid);
  if (user) await chown(passwordFile, user.uid, user.gid);
  try {
    const args = [
      `--pgdata=${building}`,
      '--auth=scram-sha-256',
      `--username=${superuser}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--no-locale',
    ];
    const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(binaries.initdb, args, { ...ids(user), env: environment() });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, text }));
    });
    if (output.code !== 0) {
      const reason = output.text.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${output.code}`;
      throw new OperatorError(`initdb failed in ${clusterDir}: ${reason}`, exitCodes.dataDir);
    }
    await moveIntoPlace(building, clusterDir);
  } finally {
    await rm(passwordFile, { force: true });
    await rm(building, { recursive: true, force: true });
  }
}

/**
 * Renames the new cluster onto `clusterDir` unless another process's cluster got there
 * first. A directory there without PG_VERSION (an empty one, or an initdb killed by an
 * older version that initialised in place) is moved aside first.
 */
async function moveIntoPlace(building: string, clusterDir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (existsSync(path.join(clusterDir, 'PG_VERSION'))) return;
    try {
      await rename(building, clusterDir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    if (existsSync(path.join(clusterDir, 'PG_VERSION'))) return;
    const aside = `${clusterDir}.stale-${process.pid}-${attempt}`;
    await rename(clusterDir, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
  throw new OperatorError(`could not put the new cluster in ${clusterDir}`, exitCodes.dataDir);
}

export interface SpawnOptions {
  readonly binaries: PostgresBinaries;
  readonly clusterDir: string;
  readonly port: number;
  readonly flags: readonly string[];
  readonly user: PostgresUser | undefined;
  readonly logFile: string;
}

/**
 * Starts the server detached (its own process group, so a terminal's Ctrl-C reaches only
 * Node, which finishes its requests before it stops the database), logging to a file in
 * the data directory. Returns the running server, or 'locked' when another postmaster
 * took this cluster first; one-line errors otherwise.
 */
export async function spawnServer(options: SpawnOptions): Promise<Postmaster | 'locked'> {
  const { binaries, clusterDir, port, logFile } = options;
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const fd = openSync(logFile, 'a', 0o640);
  const child = spawn(binaries.postgres, ['-D', clusterDir, '-p', String(port), ...options.flags], {
    ...ids(options.user),
    env: environment(),
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  let exited = false;
  let spawnError: Error | undefined;
  child.on('exit', () => (exited = true));
  child.on('error', (error) => ((spawnError = error), (exited = true)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) break;
    if (await answersFor(port, options.clusterDir)) {
      // The cluster answers, but maybe from another process's postmaster that took it
      // first (ours then exits on the lock file): that one is joined, not ours.
      const owner = runningPostmaster(clusterDir);
      if (!owner) return { pid: child.pid!, port };
      if (owner.pid === child.pid) return owner;
      if (!exited) child.kill('SIGQUIT');
      return 'locked';
    }
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new OperatorError(
        `embedded PostgreSQL did not accept connections within 60 s; see ${logFile}`,
        exitCodes.dataDir,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (spawnError)
    throw new OperatorError(
      `could not run ${binaries.postgres}: ${spawnError.message}`,
      exitCodes.dataDir,
    );
  const log = readFileSync(logFile, 'utf8').slice(logStart);
  if (/could not bind .*Address already in use|could not create any TCP\/IP sockets/s.test(log))
    throw new OperatorError(
      `EMBEDDED_PG_PORT ${port} is in use by another process; set EMBEDDED_PG_PORT to a free port`,
      exitCodes.portInUse,
    );
  if (/lock file "postmaster\.pid" already exists/.test(log) && runningPostmaster(clusterDir))
    return 'locked';
  const fatal = log
    .split('\n')
    .filter((line) => /FATAL|ERROR|PANIC/.test(line))
    .at(-1);
  throw new OperatorError(
    `embedded PostgreSQL exited while starting (port ${port}, data ${clusterDir}): ${fatal?.trim() ?? 'no reason given'}; see ${logFile}`,
    exitCodes.dataDir,
  );
}
