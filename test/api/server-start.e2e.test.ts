import { spawn, type ChildProcess } from 'node:child_process';
import { createTestDatabase } from '../support/database.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';

/** The real `src/server.ts` in its own process, until it exits; its output captured. */
function runServer(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, NODE_ENV: 'development', DEMO_SEED: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { output: () => output, exited };
}

describe('start-up refuses unsafe identity settings, in one clear line', () => {
  it.each([
    [
      'demo mode in production',
      { NODE_ENV: 'production', ADMIN_API_KEY: 'a-production-admin-key' },
      'AUTH_JWKS_URL or AUTH_JWT_SECRET: required when NODE_ENV=production',
    ],
    [
      'both key sources',
      {
        AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json',
        AUTH_JWT_SECRET: 'a-shared-secret-of-at-least-32-characters',
        AUTH_ISSUER: 'https://id.example/',
        AUTH_AUDIENCE: 'concert-api',
      },
      'AUTH_JWKS_URL and AUTH_JWT_SECRET: set one key source, not both',
    ],
  ])('%s', async (_name, env, message) => {
    const server = runServer(env);
    expect(await server.exited).toBe(3);
    expect(server.output()).toContain(message);
  });
});

describe('two API processes on one database, in demo mode', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      NODE_ENV: 'development',
      DEMO_SEED: 'false',
      JOIN_RATE_LIMIT_PER_MINUTE: '3',
      LOG_LEVEL: 'info',
    };
    servers.push(...(await Promise.all([spawnServer(env), spawnServer(env)])));
  }, 200_000);
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await database.drop();
  });

  it('says at start-up that anyone can act as any user', () => {
    for (const server of servers)
      expect(server.output()).toContain('DEMO MODE: no identity provider');
  });

  it('shares one join limit per user between the processes', async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fetch(`${servers[i % 2]!.baseUrl}/queue/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'shared-limit-user' }),
        }),
      ),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 201, 429, 429, 429, 429, 429]);
  });
});
