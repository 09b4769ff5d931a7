import { reservationsProjection } from '../../src/projections/reservations.js';
import { projectionSpec } from '../support/projection-spec.js';
import { held, holdExpired, minute, paid, paymentStarted } from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(reservationsProjection);
});
afterAll(() => spec.drop());

const history = [
  [held(1, 's1', 'r1', 1), held(1, 's2', 'r2', 1), paymentStarted(2, 's1', 'r1', 2)],
  [paid(3, 's1', 'r1', 3), holdExpired(2, 's2', 'r2', 6)],
  [held(3, 's2', 'r3', 7)],
];

const reservation = (reservationId: string, seatId: string, heldAt: number, rest: object) => ({
  reservation_id: reservationId,
  seat_id: seatId,
  concert_time_id: 'time-1',
  user_id: `user-${reservationId}`,
  price: 1000,
  held_at: new Date(minute(heldAt)),
  hold_expires_at: new Date(minute(heldAt + 5)),
  ...rest,
});
const expected = [
  reservation('r1', 's1', 1, { status: 'paid', updated_at: new Date(minute(3)) }),
  reservation('r2', 's2', 1, { status: 'expired', updated_at: new Date(minute(6)) }),
  reservation('r3', 's2', 7, { status: 'holding', updated_at: new Date(minute(7)) }),
];

describe('reservations projection', () => {
  it('keeps one row per hold with its outcome; a seat held again is a new reservation', async () => {
    const model = await spec.fresh();
    await model.apply(history[0]!);
    expect(await model.rows('reservations')).toEqual([
      reservation('r1', 's1', 1, { status: 'holding', updated_at: new Date(minute(1)) }),
      reservation('r2', 's2', 1, { status: 'holding', updated_at: new Date(minute(1)) }),
    ]);
    for (const batch of history.slice(1)) await model.apply(batch);
    expect(await model.rows('reservations')).toEqual(expected);
  });

  it('changes nothing when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    for (const batch of history) await model.apply(batch);
    await model.apply(history.flat());
    expect(await model.rows('reservations')).toEqual(expected);
  });

  it('does not reopen a paid or expired reservation when its hold is applied again', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    await model.apply([held(1, 's1', 'r1', 1), held(1, 's2', 'r2', 1)]);
    expect(await model.rows('reservations')).toEqual(expected);
  });
});
