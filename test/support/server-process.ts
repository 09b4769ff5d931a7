import { adminKey } from './api.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  exited(): boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `npm start` in its own process, ready once /healthz answers. Node itself runs the server
 * with tsx as a loader (`node --import tsx`), not the `tsx` wrapper: a SIGKILL sent to the
 * wrapper left its node child running as an orphan, so a "killed" leader kept leading.
 */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_API_KEY: 'test-admin-key-0123456789',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`server exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in 90 s:\n${output}`);
    }
    const ok = await fetch(`${baseUrl}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    await sleep(200);
  }
  return {
    child,
    baseUrl,
    output: () => output,
    exited: () => exited,
    stop: async (signal = 'SIGTERM') => {
      if (exited) return;
      child.kill(signal);
      await Promise.race([exit, sleep(20_000)]);
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
  };
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
