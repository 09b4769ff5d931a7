import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, runEntryPoint } from '../support/service.js';
import { createTestDatabase } from '../support/database.js';

describe('the CLI', () => {
  it.each(['garbage', '2026-13-45', '2026-02-31'])(
    'rejects --at %s with one line and exit 2, as the API rejects a bad time',
    async (at) => {
      const { code, output } = await runEntryPoint('src/cli.ts', {
        args: ['state', 'wallet-alice', '--at', at],
      }).exit;
      expect(code).toBe(2);
      expect(output.trim().split('\n')).toEqual([
        `--at "${at}" is neither an ISO time (2026-05-01T12:00:00Z) nor a log position "commit/prepare" (npm run cli -- --help shows the commands)`,
      ]);
    },
  );

  /** A DATA_DIR of its own, whose embedded server the CLI starts; never left running. */
  async function withOwnDataDir(
    test: (env: Record<string, string>, pidFile: string) => Promise<void>,
  ) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'concerts-cli-'));
    await chmod(dataDir, 0o755);
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    try {
      await test({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) }, pidFile);
    } finally {
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
        process.kill(pid, 'SIGQUIT');
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  // Found by a black-box tester: without a logger the CLI's shutdown skipped stopping the
  // embedded server (the stop sat inside an optional log call's argument).
  it('stops the embedded PostgreSQL it started once it is done', () =>
    withOwnDataDir(async (env, pidFile) => {
      const { code } = await runEntryPoint('src/cli.ts', { env, args: ['checkpoints'] }).exit;
      expect(code).toBe(0);
      expect(existsSync(path.join(path.dirname(pidFile), 'PG_VERSION'))).toBe(true);
      expect(existsSync(pidFile)).toBe(false);
    }));

  // Found by a black-box tester: `npm run cli -- checkpoints | head -1` died on EPIPE with
  // a stack trace and left the embedded server it had started running.
  it('finishes, quietly, and stops its embedded PostgreSQL when its reader leaves early', () =>
    withOwnDataDir(async (env, pidFile) => {
      const cli = runEntryPoint('src/cli.ts', { env, args: ['checkpoints'] });
      // As `| head -1` does once it has its line: the read end of the pipe closes.
      cli.child.stdout!.destroy();
      const { code, output } = await cli.exit;
      expect(output).not.toContain('EPIPE');
      expect(code).toBe(0);
      expect(existsSync(pidFile)).toBe(false);
    }));

  it('says so when a user has no history', async () => {
    const database = await createTestDatabase();
    try {
      const { code, output } = await runEntryPoint('src/cli.ts', {
        env: { DATABASE_URL: database.url },
        args: ['trace', '--user', 'nobody'],
      }).exit;
      expect(code).toBe(0);
      expect(output.trim()).toBe('no tokens, holds, charges or payments for user "nobody"');
    } finally {
      await database.drop();
    }
  });

  it('shows checkpoints as a person reads them: position, events behind the head, since when', async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url };
      // The CLI runs no projections for seed: the seats it schedules stay unapplied.
      const seeded = await runEntryPoint('src/cli.ts', {
        env,
        args: ['seed', '--concerts', '1', '--seats', '3'],
      }).exit;
      expect(seeded.code).toBe(0);
      const { code, output } = await runEntryPoint('src/cli.ts', {
        env,
        args: ['checkpoints'],
      }).exit;
      expect(code).toBe(0);
      const lines = output.trim().split('\n');
      expect(lines[0]).toMatch(/^log head: \d+\/\d+ /);
      expect(lines[2]).toMatch(/^projection\s+checkpoint\s+applied\s+behind the head$/);
      const row = (name: string) => lines.find((line) => line.startsWith(`${name} `)) ?? '';
      expect(row('seat-map')).toMatch(
        /^seat-map\s+start \(nothing applied yet\)\s+0 events\s+\d+ events behind, the oldest written \d+ (s|min) ago$/,
      );
      // Columns line up: every row's "behind" cell starts where the header's does.
      const column = lines[2]!.indexOf('behind the head');
      for (const line of lines.slice(3)) expect(line.slice(column)).toMatch(/^(up to date|\d+)/);
    } finally {
      await database.drop();
    }
  });
});
