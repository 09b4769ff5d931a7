import { seedDemoCatalog } from '../../src/commands/demo-catalog.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

// Found by a black-box tester: two servers started at once on one empty store each
// seeded a demo concert, so the catalog listed two.
it('two first starts seeding one empty store at once write one demo concert between them', async () => {
  const started = Date.parse('2026-11-26T21:30:00.000Z');
  // Two processes read their clocks a few milliseconds apart.
  const [first, second] = await Promise.all(
    [0, 7].map((skew) =>
      seedDemoCatalog({ store: system.store, clock: () => new Date(started + skew) }),
    ),
  );

  expect(first?.concert.concertId).toBeDefined();
  expect(second?.concert.concertId).toBe(first?.concert.concertId);
  // Each says whether it was the one that wrote it (its start-up line does).
  expect([first?.scheduledNow, second?.scheduledNow].sort()).toEqual([false, true]);
  const scheduled = await system.store.readAll({
    filter: { eventTypes: ['ConcertScheduled'] },
    maxCount: 10,
  });
  expect(scheduled).toHaveLength(1);
  const seats = await system.store.countEvents({
    filter: { eventTypes: ['SeatCreated'] },
    limit: 10_000,
  });
  expect(seats).toBe(900);
  // Reservations are open when it is seeded, and a later start leaves the store alone.
  const [date] = first!.concert.dates;
  expect(Date.parse(date!.reservationStartTime)).toBeLessThan(started);
  expect(await seedDemoCatalog({ store: system.store, clock: () => new Date(started) })).toBe(
    undefined,
  );
});
