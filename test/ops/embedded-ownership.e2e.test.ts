import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, isAlive, runEntryPoint, type RunningProcess } from '../support/service.js';

// The service and the CLI as operators run them, on one DATA_DIR with its own embedded
// PostgreSQL (not the test run's shared server).
describe('the embedded PostgreSQL of a DATA_DIR', () => {
  let dataDir: string;
  const running: RunningProcess[] = [];
  const postmasterPid = async () =>
    Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-ops-'));
  });
  afterAll(async () => {
    for (const process of running) process.child.kill('SIGKILL');
    const pid = await postmasterPid().catch(() => 0);
    if (pid && isAlive(pid)) process.kill(pid, 'SIGQUIT');
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The services' connections to the embedded server, by how they reach it. */
  const connectionsByTransport = async (pgPort: number) => {
    const client = new pg.Client({
      connectionString: `postgres://postgres:password@127.0.0.1:${pgPort}/concerts`,
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ socket: number; tcp: number }>(
        `SELECT count(*) FILTER (WHERE client_addr IS NULL)::int AS socket,
                count(*) FILTER (WHERE client_addr IS NOT NULL)::int AS tcp
         FROM pg_stat_activity
         WHERE datname = 'concerts' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      return rows[0]!;
    } finally {
      await client.end();
    }
  };

  const service = async (pgPort: number) => {
    const env = {
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(pgPort),
      DATA_DIR: dataDir,
      ADMISSION_INTERVAL_MS: '60000',
    };
    const started = runEntryPoint('src/server.ts', { env });
    running.push(started);
    await started.waitFor(/API is ready/);
    return started;
  };

  it('is joined through postmaster.pid by the CLI and a second service on other ports, taken over after kill -9, and stopped by its last user', async () => {
    const firstPort = await freePort();
    const first = await service(firstPort);
    expect(first.messages.join('\n')).toMatch(
      new RegExp(`started embedded PostgreSQL .* on 127\\.0\\.0\\.1:${firstPort}`),
    );
    const pid = await postmasterPid();

    // The CLI, configured with another port, finds the running server through postmaster.pid.
    const otherPort = String(await freePort());
    const cli = runEntryPoint('src/cli.ts', {
      env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: otherPort },
      args: ['trace', '--user', 'nobody'],
    });
    const cliExit = await cli.exit;
    expect(cliExit.code).toBe(0);
    expect(isAlive(pid)).toBe(true);

    // A second service on the same DATA_DIR joins the same server and leaves it running.
    const second = await service(Number(otherPort));
    expect(second.messages.join('\n')).toMatch(
      new RegExp(
        `joined the running embedded PostgreSQL pid ${pid} on 127\\.0\\.0\\.1:${firstPort}.*shared with pid ${first.child.pid}`,
      ),
    );
    // Both talk to it through its Unix socket, the one that started it and the one that
    // joined it (read from postmaster.pid), not loopback TCP.
    const transports = await connectionsByTransport(firstPort);
    expect(transports.tcp).toBe(0);
    expect(transports.socket).toBeGreaterThanOrEqual(2);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    expect(second.messages.join('\n')).toContain(
      `left PostgreSQL pid ${pid} on port ${firstPort} running for pid ${first.child.pid}`,
    );
    expect(isAlive(pid)).toBe(true);

    // kill -9 leaves the server without its owner; the next service takes it over.
    first.child.kill('SIGKILL');
    await first.exit;
    expect(isAlive(pid)).toBe(true);
    const third = await service(Number(otherPort));
    expect(third.messages.join('\n')).toMatch(
      new RegExp(`joined the running embedded PostgreSQL pid ${pid} .*previous owner is gone`),
    );
    third.child.kill('SIGTERM');
    expect((await third.exit).code).toBe(0);
    expect(third.messages.join('\n')).toContain(
      `stopped PostgreSQL pid ${pid} on port ${firstPort}`,
    );
    expect(isAlive(pid)).toBe(false);
    // Three services and a CLI start one after another: a budget for a loaded machine, not a speed claim.
  }, 600_000);
});

// Found by a black-box tester: two first starts at the same moment on an empty DATA_DIR
// ran initdb in the same directory (one removed the other's), and a start whose postmaster
// lost the lock file took the other's answering server for its own.
describe('two services started at the same moment on an empty DATA_DIR', () => {
  let dataDir: string;
  const running: RunningProcess[] = [];
  afterAll(async () => {
    for (const process of running) process.child.kill('SIGKILL');
    const pid = Number(
      (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '0')).split(
        '\n',
      )[0],
    );
    if (pid && isAlive(pid)) process.kill(pid, 'SIGQUIT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('initialise one cluster: one starts the server, the other joins it', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-ops-'));
    const pgPort = String(await freePort());
    const both = await Promise.all(
      [0, 1].map(async () => {
        const env = {
          PORT: String(await freePort()),
          EMBEDDED_PG_PORT: pgPort,
          DATA_DIR: dataDir,
          DEMO_SEED: 'false',
          ADMISSION_INTERVAL_MS: '60000',
        };
        const started = runEntryPoint('src/server.ts', { env });
        running.push(started);
        await started.waitFor(/API is ready/);
        return started.messages.join('\n');
      }),
    );
    const started = both.filter((log) => /started embedded PostgreSQL pid/.test(log));
    const joined = both.filter((log) => /joined the running embedded PostgreSQL pid/.test(log));
    expect([started.length, joined.length]).toEqual([1, 1]);
    for (const log of both) expect(log).not.toMatch(/exited; restarting it/);
    const leftovers = (await readdir(dataDir)).filter((name) => /^pg\.(init|stale)-/.test(name));
    expect(leftovers).toEqual([]);
    for (const process of running) process.child.kill('SIGTERM');
    for (const process of running) expect((await process.exit).code).toBe(0);
  }, 300_000);
});
