import { availableDatesProjection } from '../../src/projections/available-dates.js';
import { projectionSpec } from '../support/projection-spec.js';
import {
  concertTime,
  created,
  held,
  holdExpired,
  minute,
  scheduled,
  scheduledWithSeats,
} from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(availableDatesProjection);
});
afterAll(() => spec.drop());

const history = [
  [created('s1', 1), created('s2', 2), created('s3', 3), scheduled(3)],
  [held(1, 's1', 'r1', 1), held(1, 's2', 'r2', 1), holdExpired(2, 's1', 'r1', 6)],
  [held(3, 's1', 'r3', 7)],
];

const concertTimeRow = (availableSeats: number) => ({
  concert_time_id: 'time-1',
  concert_id: 'concert-1',
  concert_time: new Date(concertTime),
  reservation_start_time: new Date(minute(0)),
  total_seats: 3,
  available_seats: availableSeats,
});

describe('available-dates projection', () => {
  it('counts a date’s available seats as holds are taken and expire', async () => {
    const model = await spec.fresh();
    for (const batch of history.slice(0, 2)) await model.apply(batch);
    expect(await model.rows('concerts')).toEqual([
      { concert_id: 'concert-1', title: 'Spec', scheduled_at: new Date(minute(0)) },
    ]);
    expect(await model.rows('concert_times')).toEqual([concertTimeRow(2)]);
    expect(await model.rows('date_seats')).toEqual([
      { seat_id: 's1', concert_time_id: 'time-1', available: true, revision: 2 },
      { seat_id: 's2', concert_time_id: 'time-1', available: false, revision: 1 },
      { seat_id: 's3', concert_time_id: 'time-1', available: true, revision: 0 },
    ]);
    await model.apply(history[2]!);
    expect(await model.rows('concert_times')).toEqual([concertTimeRow(1)]);
  });

  it('changes nothing, the counter included, when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    const before = {
      times: await model.rows('concert_times'),
      seats: await model.rows('date_seats'),
    };
    for (const batch of history) await model.apply(batch);
    await model.apply(history.flat());
    expect(await model.rows('concert_times')).toEqual([concertTimeRow(1)]);
    expect({
      times: await model.rows('concert_times'),
      seats: await model.rows('date_seats'),
    }).toEqual(before);
  });

  it('reads a concert written before seats left ConcertScheduled', async () => {
    const model = await spec.fresh();
    await model.apply([scheduledWithSeats(['s1', 's2', 's3'])]);
    await model.apply(history.slice(1).flat());
    expect(await model.rows('concert_times')).toEqual([concertTimeRow(1)]);
  });

  it('ignores an older seat event applied after a newer one', async () => {
    const model = await spec.fresh();
    for (const batch of history.slice(0, 2)) await model.apply(batch);
    await model.apply([held(1, 's1', 'r1', 1)]);
    expect(await model.rows('concert_times')).toEqual([concertTimeRow(2)]);
  });
});
