import { runEntryPoint } from '../support/service.js';
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
});
