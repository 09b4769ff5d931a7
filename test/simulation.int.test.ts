import { simulate } from '../sim/simulation.js';
import { createTestDatabase } from './support/database.js';

/** Operations per seeded run in the CI budget (docs/simulation.md). */
const operations = 30;

async function runSeed(seed: number, reintroduceDefect1 = false): Promise<string[]> {
  const database = await createTestDatabase();
  try {
    const result = await simulate({
      seed,
      databaseUrl: database.url,
      operations,
      reintroduceDefect1,
    });
    return result.violations;
  } finally {
    await database.drop();
  }
}

/**
 * The CI seed budget of `npm run simulate`: a few seeded runs of the fault simulation on
 * real PostgreSQL; any invariant violation fails with the seed that replays it.
 */
describe('seeded fault simulation (CI budget)', () => {
  it.each([1, 2, 3])(
    'seed %i breaks no invariant',
    async (seed) => {
      expect({ seed, violations: await runSeed(seed) }).toEqual({ seed, violations: [] });
    },
    120_000,
  );

  // Shows that the simulation can fail: with issue 9's defect 1 back (recovery records a
  // refund for any error after the debit), some seed of the budget must report it, and
  // that same seed must pass with the fixed code.
  // On real PostgreSQL the interleaving varies from run to run: over seeds 1-24, 9 found it
  // in one run (about 4 in 10 per seed), so 16 seeds miss it about once in 3,500 runs (0.6^16).
  it('finds the reintroduced defect 1 within 16 seeds; the same seed passes without it', async () => {
    let found: { seed: number; violations: string[] } | undefined;
    for (let seed = 1; seed <= 16 && !found; seed++) {
      const violations = await runSeed(seed, true);
      if (violations.length > 0) found = { seed, violations };
    }
    expect(found).toBeDefined();
    expect(found!.violations.join('\n')).toMatch(
      /\(b\) .*(claims a refund|neither paid nor refunded)/,
    );
    expect({ seed: found!.seed, violations: await runSeed(found!.seed) }).toEqual({
      seed: found!.seed,
      violations: [],
    });
  }, 600_000);
});
