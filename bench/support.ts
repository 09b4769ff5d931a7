import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/events/store/embedded.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A PostgreSQL server for the whole run: DATABASE_URL's, or an embedded one. */
export async function benchDatabaseServer(): Promise<{
  serverUrl: string;
  version: string;
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}> {
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-bench-'));
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      database: 'postgres',
      settings: { max_connections: '400', shared_buffers: '512MB' },
    });
    serverUrl = embedded.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
  await admin.end();
  return {
    serverUrl,
    version: rows[0]!.server_version,
    createDatabase: async () => {
      const name = `bench_${randomBytes(5).toString('hex')}`;
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    stop: async () => {
      await embedded?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** CPU time (user + system) process `pid` has used so far. */
export function processCpuSeconds(pid: number): number {
  // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name) are utime, stime.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU time (user + system) PostgreSQL has used so far: every live `postgres` process's
 * own, plus what its ended children used (a backend that closed counts in the
 * postmaster's children's time). The bench assumes no other PostgreSQL is busy.
 */
export function postgresCpuSeconds(): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it ended between the listing and the read
    }
    if (!stat.includes(' (postgres) ')) continue;
    // After the name: utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat.
    const fields = stat.split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

/**
 * Where the machine's CPU goes during a measured window: the API process, PostgreSQL
 * (every postgres process; the bench assumes a quiet machine) and this load generator.
 */
export function cpuMeter(server?: Pick<RunningServer, 'cpuSeconds'>) {
  const read = () => ({
    api: server?.cpuSeconds() ?? 0,
    postgres: postgresCpuSeconds(),
    load: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  });
  const before = read();
  return {
    /** Milliseconds of CPU per operation, for `operations` done since the meter started. */
    perOperation(operations: number) {
      const after = read();
      const ms = (key: keyof typeof before) => ((after[key] - before[key]) * 1000) / operations;
      return { api: ms('api'), postgres: ms('postgres'), load: ms('load') };
    },
  };
}

export interface RunningServer {
  readonly baseUrl: string;
  readonly adminKey: string;
  rssBytes(): number;
  /**
   * With BENCH_HEAP_SNAPSHOT=1, the server writes a V8 heap snapshot into
   * bench/results/profiles/ (a diagnostic: the server stops while it writes).
   */
  heapSnapshot(): Promise<void>;
  /** CPU time (user + system) the server process has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** The real service in its own process, as in production, on `databaseUrl`. */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const port = await freePort();
  const adminKey = `bench-admin-key-${randomBytes(8).toString('hex')}`;
  // BENCH_CPU_PROF=1 writes a V8 CPU profile of the server to bench/results/profiles/.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles']
    : [];
  const heap = process.env.BENCH_HEAP_SNAPSHOT
    ? ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir=bench/results/profiles']
    : [];
  if (heap.length > 0) mkdirSync('bench/results/profiles', { recursive: true });
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, ...heap, '--import', 'tsx', 'src/server.ts'],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        ADMIN_API_KEY: adminKey,
        LOG_LEVEL: 'warn',
        DEMO_SEED: 'false',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(`${baseUrl}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      // Never leave it running behind a failed scenario (it would load the next one).
      child.kill('SIGKILL');
      throw new Error('the server did not start within 120 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    baseUrl,
    adminKey,
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    heapSnapshot: async () => {
      if (heap.length === 0) return;
      const before = readdirSync('bench/results/profiles').length;
      child.kill('SIGUSR2');
      // The snapshot is written when the file count grows and the server answers again.
      while (readdirSync('bench/results/profiles').length === before)
        await new Promise((resolve) => setTimeout(resolve, 200));
      await fetch(`${baseUrl}/healthz`).catch(() => undefined);
    },
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface HttpCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Record<number, number>;
  readonly bodies: { status: number; body: string }[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A closed-loop load generator: `concurrency` connections, each sending its next request
 * when the last one answered, until `total` requests or `timeLimitMs`.
 */
export async function drive(
  baseUrl: string,
  options: { concurrency: number; total: number; timeLimitMs?: number; keepBodies?: boolean },
  call: (index: number) => HttpCall,
): Promise<LoadResult> {
  const pool = new Pool(baseUrl, { connections: options.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const bodies: { status: number; body: string }[] = [];
  const deadline = Date.now() + (options.timeLimitMs ?? 120_000);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.total && Date.now() < deadline) {
        const request = call(next++);
        const sent = performance.now();
        const response = await pool.request({
          method: request.method,
          path: request.path,
          headers: {
            ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...request.headers,
          },
          ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        });
        const body = await response.body.text();
        latencies.push(performance.now() - sent);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        if (options.keepBodies) bodies.push({ status: response.statusCode, body });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    statuses,
    bodies,
  };
}

/** Waits until `check` is true, polling. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
