import { simulate } from '../sim/simulation.js';
import { createTestDatabase } from './support/database.js';

/**
 * The CI seed budget of `npm run simulate`: a few seeded runs of the fault simulation on
 * real PostgreSQL; any invariant violation fails with the seed that replays it.
 */
describe('seeded fault simulation (CI budget)', () => {
  it.each([1, 2, 3])('seed %i breaks no invariant', async (seed) => {
    const database = await createTestDatabase();
    try {
      const result = await simulate({ seed, databaseUrl: database.url, operations: 20 });
      expect({ seed, violations: result.violations }).toEqual({ seed, violations: [] });
    } finally {
      await database.drop();
    }
  });
});
