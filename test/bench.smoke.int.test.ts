import { scenarios } from '../bench/scenarios.js';
import { createTestDatabase } from './support/database.js';

/**
 * A tiny run of every benchmark scenario, so the harness cannot rot. Figures are not
 * checked (timing never fails a test); the scenarios' own correctness checks are.
 */
describe('benchmark harness (smoke)', () => {
  const dropped: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const drop of dropped) await drop();
  });
  const context = {
    smoke: true,
    createDatabase: async () => {
      const database = await createTestDatabase();
      dropped.push(database.drop);
      return database.url;
    },
  };

  it.each(Object.keys(scenarios))('runs the %s scenario end to end', async (name) => {
    const result = await scenarios[name]!(context);
    expect(result.scenario).toBe(name);
    expect(result.figures.length).toBeGreaterThan(0);
    for (const figure of result.figures) expect(Number.isFinite(figure.value)).toBe(true);
  });
});
