import { planToCommand, type ConcertPlan } from '../../src/commands/schedule-concert.js';
import { decideConcert, type ScheduleConcert } from '../../src/deciders/concert.js';
import { concertKind, type ConcertEvent, type ConcertState } from '../../src/events/catalog.js';
import { deciderSpec } from '../support/decider.js';

const concert = deciderSpec(concertKind);
const schedule = (data: ScheduleConcert) => (state: ConcertState) =>
  decideConcert({ type: 'ScheduleConcert', data }, state);
/** The one event a valid plan decides. */
function scheduled(command: ScheduleConcert, state = concertKind.initialState()): ConcertEvent {
  const decision = schedule(command)(state);
  if (!Array.isArray(decision) || decision.length !== 1) throw new Error('expected one event');
  return decision[0] as ConcertEvent;
}

const plan = (dates: number, seats: number): ConcertPlan => ({
  title: 'Big hall',
  dates: Array.from({ length: dates }, (_, d) => ({
    concertTime: new Date(Date.UTC(2030, 0, 1 + d, 10)).toISOString(),
    reservationStartTime: '2029-12-01T00:00:00.000Z',
    seats: Array.from({ length: seats }, (_, i) => ({ seatNumber: i + 1, price: 1000 })),
  })),
});

describe('scheduling a concert', () => {
  it('keeps ConcertScheduled far below 1 MiB at the API maximum of 366 dates, whatever the seats', () => {
    const size = (seats: number) => {
      const event = scheduled(
        planToCommand(plan(366, seats), '2029-11-01T00:00:00.000Z', 'command-1'),
      );
      return Buffer.byteLength(JSON.stringify(event.data));
    };
    expect(size(100)).toBeLessThan(128 * 1024);
    // Seats are their own streams: ten times the seats, the same size (the count has as many digits).
    expect(size(999)).toBe(size(100));
  });

  it('names everything from the command id, so a retry names the same streams', () => {
    const a = planToCommand(plan(2, 3), '2029-11-01T00:00:00.000Z', 'command-1');
    const b = planToCommand(plan(2, 3), '2029-11-02T00:00:00.000Z', 'command-1');
    const c = planToCommand(plan(2, 3), '2029-11-01T00:00:00.000Z', 'command-2');
    expect(b.concertId).toBe(a.concertId);
    expect(b.dates.flatMap((d) => d.seats.map((s) => s.seatId))).toEqual(
      a.dates.flatMap((d) => d.seats.map((s) => s.seatId)),
    );
    expect(c.concertId).not.toBe(a.concertId);
    expect(a.concertId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const ids = new Set(a.dates.flatMap((d) => [d.concertTimeId, ...d.seats.map((s) => s.seatId)]));
    expect(ids.size).toBe(2 + 6);
  });

  it('decides nothing for a concert already scheduled (the retry of the same command)', () => {
    const command = planToCommand(plan(1, 2), '2029-11-01T00:00:00.000Z', 'command-1');
    concert
      .given([scheduled(command)])
      .when(schedule(command))
      .then([]);
  });

  it('records the dates with their seat counts, not the seats', () => {
    const command = planToCommand(plan(1, 2), '2029-11-01T00:00:00.000Z', 'command-1');
    const date = command.dates[0]!;
    concert
      .given([])
      .when(schedule(command))
      .then([
        {
          type: 'ConcertScheduled',
          data: {
            concertId: command.concertId,
            title: 'Big hall',
            scheduledAt: '2029-11-01T00:00:00.000Z',
            dates: [
              {
                concertTimeId: date.concertTimeId,
                concertTime: date.concertTime,
                reservationStartTime: date.reservationStartTime,
                totalSeats: 2,
              },
            ],
          },
        },
      ]);
  });

  it('refuses a concert without dates, a date without seats, or repeated seat numbers', () => {
    const at = '2029-11-01T00:00:00.000Z';
    concert
      .given([])
      .when(schedule(planToCommand(plan(0, 1), at)))
      .thenFails('VALIDATION_FAILED');
    concert
      .given([])
      .when(schedule(planToCommand(plan(1, 0), at)))
      .thenFails('VALIDATION_FAILED');
    const repeated = plan(1, 2);
    const twice: ConcertPlan = {
      ...repeated,
      dates: [
        {
          ...repeated.dates[0]!,
          seats: [
            { seatNumber: 1, price: 1 },
            { seatNumber: 1, price: 2 },
          ],
        },
      ],
    };
    concert
      .given([])
      .when(schedule(planToCommand(twice, at)))
      .thenFails('VALIDATION_FAILED');
  });

  it('refuses reservations that open after the concert', () => {
    const late = plan(1, 1);
    const backwards: ConcertPlan = {
      ...late,
      dates: [{ ...late.dates[0]!, reservationStartTime: '2031-01-01T00:00:00.000Z' }],
    };
    concert
      .given([])
      .when(schedule(planToCommand(backwards, '2029-11-01T00:00:00.000Z')))
      .thenFails('VALIDATION_FAILED');
  });
});
