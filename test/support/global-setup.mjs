// One real PostgreSQL server per test run; each test file creates its own database.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';

const prefix = 'concerts-test-';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

/** Stops the cluster's server at once and removes its directory, synchronously (usable on 'exit'). */
function removeCluster(dataDir) {
  try {
    const pid = Number(
      readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    if (pid > 0 && alive(pid)) {
      process.kill(pid, 'SIGQUIT');
      const deadline = Date.now() + 5000;
      while (alive(pid) && Date.now() < deadline)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  } catch {
    // No server ran there.
  }
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Clusters of earlier runs killed before their teardown: only those whose runner left its
 * pid and is gone (a directory without the file may be another run that is just starting).
 */
function sweepAbandoned() {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dataDir = path.join(tmpdir(), name);
    const owner = path.join(dataDir, 'test-runner.pid');
    if (!existsSync(owner)) continue;
    const pid = Number(readFileSync(owner, 'utf8'));
    if (pid > 0 && !alive(pid)) removeCluster(dataDir);
  }
}

export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) return;
  sweepAbandoned();
  const { startEmbeddedPostgres } = await tsImport(
    '../../src/events/store/embedded.ts',
    import.meta.url,
  );
  const dataDir = await mkdtemp(path.join(tmpdir(), prefix));
  writeFileSync(path.join(dataDir, 'test-runner.pid'), String(process.pid));
  // Interrupted runs (Ctrl-C, a failing setup) clean up too: no cluster or data left behind.
  const onExit = () => removeCluster(dataDir);
  process.once('exit', onExit);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.once(signal, () => {
      onExit();
      process.exit(130);
    });
  await chmod(dataDir, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    database: 'postgres',
    // A throwaway cluster: durability buys nothing here.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  globalThis.__embeddedPostgres = { server, dataDir, onExit };
  process.env.TEST_DATABASE_URL = server.url;
}
