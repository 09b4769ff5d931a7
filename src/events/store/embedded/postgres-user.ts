import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PostgresUser {
  readonly uid: number;
  readonly gid: number;
}

/** PostgreSQL refuses to run as root: as root the server runs as `postgres` (created if absent). */
export async function postgresUser(): Promise<PostgresUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return lookup();
  }
}

/**
 * Whether `user` can reach `target` with `test <flag>` (-x: traverse or execute). Asked
 * of the system itself, as that user with the same ids Node gives the server (no
 * supplementary groups), so every ancestor's mode, ACLs and mount options count.
 */
export function userCan(user: PostgresUser | undefined, flag: '-x' | '-r', target: string) {
  if (!user) return true;
  const result = spawnSync('/bin/sh', ['-c', `test ${flag} "$1"`, 'sh', target], {
    uid: user.uid,
    gid: user.gid,
    stdio: 'ignore',
  });
  return result.status === 0;
}
