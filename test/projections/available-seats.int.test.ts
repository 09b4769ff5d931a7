import { availableSeatsProjection } from '../../src/projections/available-seats.js';
import { projectionSpec } from '../support/projection-spec.js';
import { held, holdExpired, minute, seatHistory } from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(availableSeatsProjection);
});
afterAll(() => spec.drop());

const history = seatHistory;

const seat = (seatId: string, seatNumber: number, rest: Record<string, unknown>) => ({
  seat_id: seatId,
  concert_id: 'concert-1',
  concert_time_id: 'time-1',
  seat_number: seatNumber,
  price: 1000,
  ...rest,
});
const holding = (reservationId: string) => ({
  reservation_id: reservationId,
  user_id: `user-${reservationId}`,
  hold_expires_at: new Date(minute(6)),
});
const expected = [
  seat('s1', 1, { status: 'paid', ...holding('r1'), hold_expires_at: null, revision: 3 }),
  seat('s2', 2, { status: 'holding', ...holding('r2'), revision: 1 }),
  seat('s3', 3, { status: 'holding', ...holding('r3'), revision: 3 }),
  seat('s4', 4, {
    status: 'empty',
    reservation_id: null,
    user_id: null,
    hold_expires_at: null,
    revision: 2,
  }),
];

describe('available-seats projection', () => {
  it('follows each seat through holds, payments, cancellations and expiries', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('seats')).toEqual(expected);
  });

  it('leaves the same rows when the whole history is one batch', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    expect(await model.rows('seats')).toEqual(expected);
  });

  it('changes nothing when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('seats')).toEqual(expected);
  });

  it('ignores an older seat event applied after a newer one', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    await model.apply([held(1, 's1', 'r1', 1), holdExpired(2, 's1', 'r1', 6)]);
    expect(await model.rows('seats')).toEqual(expected);
  });
});
