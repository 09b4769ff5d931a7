import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Everything written to stdout and stderr. */
  readonly output: string;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  /** Log messages so far (the `msg` of each JSON line, or the raw line). */
  readonly messages: string[];
  /** Resolves with the first message matching, or rejects when the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  readonly exit: Promise<Exit>;
}

/**
 * Runs one of the project's entry points (`src/server.ts`, `src/cli.ts`) as its own
 * process, the way an operator starts it, with a clean environment plus `env`.
 */
export function runEntryPoint(
  entry: 'src/server.ts' | 'src/cli.ts',
  options: { cwd?: string; env?: Record<string, string>; args?: string[] } = {},
): RunningProcess {
  const cwd = options.cwd ?? repoRoot;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...(options.args ?? [])], {
    cwd,
    env: { ...env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: string[] = [];
  let output = '';
  const waiters: { pattern: RegExp; resolve(line: string): void; reject(error: Error): void }[] =
    [];
  const onLine = (line: string) => {
    let message = line;
    try {
      message = (JSON.parse(line) as { msg?: string }).msg ?? line;
    } catch {
      // Not a log line: keep it as it is.
    }
    messages.push(message);
    for (const waiter of [...waiters])
      if (waiter.pattern.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      lines.forEach(onLine);
    });
  }
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      for (const waiter of waiters.splice(0))
        waiter.reject(new Error(`exited (${code ?? signal}) before ${waiter.pattern}:\n${output}`));
      resolve({ code, signal, output });
    }),
  );
  return {
    child,
    messages,
    exit,
    waitFor: (pattern) => {
      const seen = messages.find((message) => pattern.test(message));
      if (seen) return Promise.resolve(seen);
      if (child.exitCode !== null || child.signalCode !== null)
        return Promise.reject(new Error(`exited before ${pattern}:\n${output}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
  };
}

/** Whether a process with this pid is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
