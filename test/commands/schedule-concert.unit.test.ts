import {
  decideScheduleConcert,
  planToCommand,
  type ConcertPlan,
} from '../../src/commands/schedule-concert.js';
import { concertKind } from '../../src/events/catalog.js';

const plan = (dates: number, seats: number): ConcertPlan => ({
  title: 'Big hall',
  dates: Array.from({ length: dates }, (_, d) => ({
    concertTime: new Date(Date.UTC(2030, 0, 1 + d, 10)).toISOString(),
    reservationStartTime: '2029-12-01T00:00:00.000Z',
    seats: Array.from({ length: seats }, (_, i) => ({ seatNumber: i + 1, price: 1000 })),
  })),
});

describe('decideScheduleConcert', () => {
  it('keeps ConcertScheduled far below 1 MiB at the API maximum of 366 dates, whatever the seats', () => {
    const size = (seats: number) => {
      const [event] = decideScheduleConcert(
        planToCommand(plan(366, seats), '2029-11-01T00:00:00.000Z', 'command-1'),
        concertKind.initialState(),
      );
      return Buffer.byteLength(JSON.stringify(event!.data));
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
    expect(a.concertId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ids = new Set(a.dates.flatMap((d) => [d.concertTimeId, ...d.seats.map((s) => s.seatId)]));
    expect(ids.size).toBe(2 + 6);
  });

  it('decides nothing for a concert already scheduled (the retry of the same command)', () => {
    const command = planToCommand(plan(1, 2), '2029-11-01T00:00:00.000Z', 'command-1');
    const [event] = decideScheduleConcert(command, concertKind.initialState());
    const state = concertKind.evolve(concertKind.initialState(), event!);
    expect(decideScheduleConcert(command, state)).toEqual([]);
  });
});
