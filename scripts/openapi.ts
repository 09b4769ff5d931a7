/**
 * The OpenAPI document without a listening HTTP server: builds the app on a throwaway
 * embedded PostgreSQL (or on DATABASE_URL), asks it for /docs/json through fastify.inject.
 *
 *   tsx scripts/openapi.ts write <file>   writes the document
 *   tsx scripts/openapi.ts lint           writes it to a temporary file and runs
 *                                         `redocly lint` (recommended rules, redocly.yaml)
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../src/api/app.js';
import { systemClock } from '../src/commands/clock.js';
import { loadConfig } from '../src/config.js';
import { startSystem } from '../src/system.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The document as /docs/json serves it (demo identity mode, the default). */
async function openapiDocument(): Promise<string> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'concerts-openapi-'));
  try {
    // As root the embedded server runs as `postgres`, which must reach the directory.
    await chmod(scratch, 0o755);
    const environment: NodeJS.ProcessEnv = {
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      DATA_DIR: scratch,
      EMBEDDED_PG_PORT: String(await freePort()),
    };
    const system = await startSystem({
      config: loadConfig(environment),
      clock: systemClock,
      projections: false,
      processes: false,
    });
    try {
      const app = await buildApp({ system, adminApiKey: 'openapi-document-only' });
      try {
        const response = await app.inject({ method: 'GET', url: '/docs/json' });
        if (response.statusCode !== 200)
          throw new Error(`/docs/json answered ${response.statusCode}: ${response.body}`);
        return `${JSON.stringify(response.json(), null, 2)}\n`;
      } finally {
        await app.close();
      }
    } finally {
      await system.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function main(command: string | undefined, file: string | undefined): Promise<number> {
  if (command === 'write' && file) {
    await writeFile(file, await openapiDocument());
    console.log(`wrote ${file}`);
    return 0;
  }
  if (command === 'lint') {
    const scratch = await mkdtemp(path.join(tmpdir(), 'concerts-openapi-lint-'));
    try {
      const document = path.join(scratch, 'openapi.json');
      await writeFile(document, await openapiDocument());
      const redocly = path.resolve('node_modules/.bin/redocly');
      const result = spawnSync(redocly, ['lint', '--config', 'redocly.yaml', document], {
        stdio: 'inherit',
      });
      return result.status ?? 1;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  console.error('usage: tsx scripts/openapi.ts write <file> | lint');
  return 2;
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
