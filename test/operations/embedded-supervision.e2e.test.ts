import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { freePort } from '../support/service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function status(baseUrl: string, url: string): Promise<number> {
  return fetch(baseUrl + url).then(
    (response) => response.status,
    () => 0,
  );
}

/** Polls until `predicate` holds for the status of `url`, or fails after `ms`. */
async function until(baseUrl: string, url: string, predicate: (s: number) => boolean, ms: number) {
  const deadline = Date.now() + ms;
  let last = 0;
  while (Date.now() < deadline) {
    last = await status(baseUrl, url);
    if (predicate(last)) return last;
    await sleep(100);
  }
  throw new Error(`${url} stayed at ${last}`);
}

describe('embedded PostgreSQL supervision', () => {
  let dataDir: string;
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers.reverse()) await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps every API process up while the postmaster is killed, and restarts it', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-supervision-'));
    const env = { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    // The first process starts (and so supervises) the embedded server; the second reuses it.
    const owner = await spawnServer({ ...env, DEMO_SEED: 'true' });
    servers.push(owner);
    const other = await spawnServer({ ...env, DEMO_SEED: 'false' });
    servers.push(other);
    for (const server of servers) await until(server.baseUrl, '/readyz', (s) => s === 200, 30_000);

    const pid = Number(
      (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    process.kill(pid, 'SIGKILL');

    // While it is down (or restarting) readiness says so; neither process dies.
    for (const server of servers) {
      await until(server.baseUrl, '/readyz', (s) => s === 503, 10_000);
      expect(server.exited()).toBe(false);
    }
    // The owner restarts it; both serve again by themselves.
    for (const server of servers) {
      await until(server.baseUrl, '/readyz', (s) => s === 200, 60_000);
      expect(await status(server.baseUrl, '/concerts')).toBe(200);
      expect(server.exited()).toBe(false);
    }
    const restartedPid = Number(
      (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    expect(restartedPid).not.toBe(pid);
  });
});
