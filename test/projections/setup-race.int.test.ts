import { initProjections } from '../../src/projections/checkpoints.js';
import { createDb } from '../../src/projections/database.js';
import { projections } from '../../src/projections/index.js';
import { createPool } from '../../src/infrastructure/pool.js';
import { createTestDatabase } from '../support/database.js';

// Found by CI: two services started at once on an empty database, one failed with 23505
// on pg_type (`CREATE TABLE IF NOT EXISTS projection_checkpoints` run by both at once).
it('sets the read models up from several processes at once on an empty database', async () => {
  const database = await createTestDatabase();
  const processes = Array.from({ length: 6 }, () => createDb(createPool(database.url, 2)));
  try {
    const results = await Promise.allSettled(
      processes.map((db) => initProjections(db, projections)),
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
  } finally {
    await Promise.all(processes.map((db) => db.destroy()));
    await database.drop();
  }
});
