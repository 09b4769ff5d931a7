import { adminKey } from './api.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { exitCodes } from '../../src/operator-error.js';
import { freePort } from './service.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  exited(): boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * `npm start` in its own process, ready once /healthz answers. Node itself runs the server
 * with tsx as a loader (`node --import tsx`), not the `tsx` wrapper: a SIGKILL sent to the
 * wrapper left its node child running as an orphan, so a "killed" leader kept leading.
 *
 * The port is free when chosen but may be taken before the server listens (any socket on
 * the machine can get it, an outgoing PostgreSQL connection included): a server that exits
 * for that reason is started again on another port, unless the caller chose the port.
 */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce(env);
    if (started.ok) return started.server;
    if (started.code !== exitCodes.portInUse || env.PORT !== undefined || attempt === 5)
      throw new Error(`server exited during start-up (code ${started.code}):\n${started.output}`);
  }
}

async function startOnce(
  env: Record<string, string>,
): Promise<
  { ok: true; server: ServerProcess } | { ok: false; code: number | null; output: string }
> {
  const port = env.PORT ?? String(await freePort());
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'warn',
      ...env,
      PORT: port,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const exited = () => exitCode !== undefined;
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ok =
      (await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
        (response) => response.ok,
        () => false,
      )) && (await listensOn(child.pid!, Number(port)));
    if (exited()) {
      await exit;
      return { ok: false, code: exitCode ?? null, output };
    }
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in 90 s:\n${output}`);
    }
    await sleep(200);
  }
  return {
    ok: true,
    server: {
      child,
      baseUrl,
      output: () => output,
      exited,
      stop: async (signal = 'SIGTERM') => {
        if (exited()) return;
        child.kill(signal);
        await Promise.race([exit, sleep(20_000)]);
        if (!exited()) child.kill('SIGKILL');
        await exit;
      },
    },
  };
}

/**
 * Whether process `pid` holds the listening socket on `port` (Linux /proc): a healthy
 * answer counts only from our own child, since another server may have taken the port.
 */
async function listensOn(pid: number, port: number): Promise<boolean> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = await readFile(table, 'utf8').then(
      (text) => text.split('\n').slice(1),
      () => [],
    );
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local address "ADDR:PORT" in hex, state 0A = LISTEN, inode in field 9
      if (fields[3] === '0A' && parseInt(fields[1]?.split(':')[1] ?? '', 16) === port)
        inodes.add(fields[9]!);
    }
  }
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (inodes.has(target.slice('socket:['.length, -1))) return true;
  }
  return false;
}

/** One HTTP call to a spawned server: JSON in and out, a queue token or the admin key. */
export async function callServer(
  server: ServerProcess,
  method: string,
  url: string,
  options: { token?: string; body?: unknown; admin?: boolean } = {},
) {
  const response = await fetch(server.baseUrl + url, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { 'x-queue-token': options.token } : {}),
      ...(options.admin ? { 'x-admin-key': adminKey } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    behind: response.headers.get('x-read-models-behind'),
    json: <T>() => JSON.parse(text) as T,
  };
}
