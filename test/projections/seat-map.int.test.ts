import { seatMapProjection } from '../../src/projections/seat-map.js';
import { projectionSpec } from '../support/projection-spec.js';
import { held, holdExpired, seatHistory } from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(seatMapProjection);
});
afterAll(() => spec.drop());

const history = seatHistory;

const seat = (seatId: string, seatNumber: number, status: string) =>
  expect.objectContaining({
    seat_id: seatId,
    concert_time_id: 'time-1',
    seat_number: seatNumber,
    status,
  }) as unknown;
// Payment start and cancellation are not map changes: s3 stays `held` at its hold's revision.
const revisions = { s1: 3, s2: 1, s3: 1, s4: 2 };
const expected = [
  seat('s1', 1, 'sold'),
  seat('s2', 2, 'held'),
  seat('s3', 3, 'held'),
  seat('s4', 4, 'empty'),
];
const revisionsOf = (rows: Record<string, unknown>[]) =>
  Object.fromEntries(rows.map((row) => [String(row.seat_id), Number(row.revision)]));

describe('seat-map projection', () => {
  it('shows each seat as empty, held or sold and records each change once', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    const rows = await model.rows('seat_map_seats');
    expect(rows).toEqual(expected);
    expect(revisionsOf(rows)).toEqual(revisions);
    const changes = await model.rows('seat_map_changes');
    expect(changes.map((change) => [change.seat_id, change.status])).toEqual([
      ['s1', 'held'],
      ['s2', 'held'],
      ['s1', 'sold'],
      ['s3', 'held'],
      ['s4', 'held'],
      ['s4', 'empty'],
    ]);
  });

  it('leaves the same seats when the whole history is one batch', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    const rows = await model.rows('seat_map_seats');
    expect(rows).toEqual(expected);
    expect(revisionsOf(rows)).toEqual(revisions);
  });

  it('ignores an older seat event applied after a newer one', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    await model.apply([held(1, 's1', 'r1', 1), holdExpired(2, 's1', 'r1', 6)]);
    const rows = await model.rows('seat_map_seats');
    expect(rows).toEqual(expected);
    expect(revisionsOf(rows)).toEqual(revisions);
  });
});
