import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, runEntryPoint } from '../support/service.js';

/** Operator errors: one line on the way out and a documented exit code, no stack trace. */
async function failure(env: Record<string, string>) {
  const { code, output } = await runEntryPoint('src/server.ts', { env }).exit;
  const lines = output.trim().split('\n');
  const last = lines.at(-1)!;
  return { code, message: (JSON.parse(last) as { msg: string }).msg ?? last, output };
}

const occupy = (port: number) =>
  new Promise<Server>((resolve) => {
    const server = createServer();
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('operator errors', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-ops-'));
    await chmod(dataDir, 0o755);
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('bad configuration: exit 3 and a line naming the variable', async () => {
    const { code, output } = await runEntryPoint('src/server.ts', {
      env: { PORT: 'eighty', DATA_DIR: dataDir },
    }).exit;
    expect(code).toBe(3);
    expect(output.trim()).toBe('invalid configuration: PORT="eighty" must be a number');
  });

  it('the API port in use: exit 4 before the database starts', async () => {
    const port = await freePort();
    const taken = await occupy(port);
    try {
      const { code, message, output } = await failure({ PORT: String(port), DATA_DIR: dataDir });
      expect(code).toBe(4);
      expect(message).toBe(
        `PORT ${port} on 127.0.0.1 is in use by another process; set PORT to a free port`,
      );
      expect(output).not.toMatch(/\n\s+at /);
      expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
    } finally {
      taken.close();
    }
  });

  it('the embedded PostgreSQL port in use: exit 4 with the variable to change', async () => {
    const pgPort = await freePort();
    const taken = await occupy(pgPort);
    try {
      const env = {
        PORT: String(await freePort()),
        EMBEDDED_PG_PORT: String(pgPort),
        DATA_DIR: dataDir,
      };
      const { code, message, output } = await failure(env);
      expect(code).toBe(4);
      expect(message).toBe(
        `EMBEDDED_PG_PORT ${pgPort} is in use by another process; set EMBEDDED_PG_PORT to a free port`,
      );
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });

  // PostgreSQL runs as the `postgres` user only when we are root.
  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot(
    'a DATA_DIR the postgres user cannot reach: exit 5, the directory and the fix, nothing created',
    async () => {
      const private700 = path.join(dataDir, 'private');
      await mkdir(private700, { mode: 0o700 });
      const chosen = path.join(private700, 'data');
      const { code, message } = await failure({ PORT: String(await freePort()), DATA_DIR: chosen });
      expect(code).toBe(5);
      expect(message).toContain(`DATA_DIR ${chosen} is out of reach of the postgres user`);
      expect(message).toContain(`(${private700} is mode 700)`);
      expect(message).toContain(`chmod o+x ${private700}`);
      expect(existsSync(path.join(chosen, 'pg'))).toBe(false);
    },
  );
});
