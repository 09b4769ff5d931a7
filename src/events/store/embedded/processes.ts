import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What identifies a running process beyond its pid, so a pid the system reused for another
 * program is not taken for ours: its start time on Linux, just "alive" elsewhere.
 */
export function processIdentity(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync('/proc/self/stat')) return 'alive';
  try {
    // Field 22 (starttime); the command name in field 2 may contain spaces, so split after ")".
    const text = readFileSync(stat, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface Postmaster {
  readonly pid: number;
  readonly port: number;
  /** Where its Unix socket is, if it listens on one (connections skip TCP there). */
  readonly socketDir?: string;
}

/**
 * The server running on `clusterDir`, read from its `postmaster.pid` (pid on line 1, port
 * on line 4, socket directory on line 5), when that process is alive and is PostgreSQL.
 */
export function runningPostmaster(clusterDir: string): Postmaster | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  if (processIdentity(pid) === undefined) return undefined;
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, 'utf8').includes('postgres')) return undefined;
  const socketDir = lines[4]?.trim();
  return socketDir ? { pid, port, socketDir } : { pid, port };
}

/** Waits until `pid` has exited; false if it is still running after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processIdentity(pid) !== undefined) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * The processes of ours that use one embedded server, one file per pid. The last one to
 * leave stops the server, so a second `npm start` or a CLI run joins the server without
 * stopping it under the first, and a server orphaned by `kill -9` is stopped by the next
 * process that uses it.
 */
export class ClusterUsers {
  constructor(private readonly directory: string) {}

  async register(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    await writeFile(this.file(process.pid), processIdentity(process.pid) ?? '');
  }

  async unregister(): Promise<void> {
    await rm(this.file(process.pid), { force: true });
  }

  /** Pids of the other live users; entries of dead processes are removed. */
  async others(): Promise<number[]> {
    const names = await readdir(this.directory).catch(() => [] as string[]);
    const alive: number[] = [];
    for (const name of names) {
      const pid = Number(name);
      if (pid === process.pid) continue;
      const recorded = await readFile(this.file(pid), 'utf8').catch(() => undefined);
      if (recorded !== undefined && recorded === processIdentity(pid)) alive.push(pid);
      else await rm(this.file(pid), { force: true });
    }
    return alive;
  }

  private file(pid: number) {
    return path.join(this.directory, String(pid));
  }
}
