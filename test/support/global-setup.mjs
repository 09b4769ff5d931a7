// One real PostgreSQL server per test run; each test file creates its own database.
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';

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

export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) return;
  const { startEmbeddedPostgres } = await tsImport(
    '../../src/events/store/embedded.ts',
    import.meta.url,
  );
  const dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-test-'));
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    database: 'postgres',
    // A throwaway cluster: durability buys nothing here.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  globalThis.__embeddedPostgres = { server, dataDir };
  process.env.TEST_DATABASE_URL = server.url;
}
