import { refuse, type Decision, type Refusal } from '../commands/decision.js';
import type { ConcertEvent, ConcertState } from '../events/catalog.js';

export {
  concertKind,
  concertStream,
  type ConcertEvent,
  type ConcertState,
} from '../events/catalog.js';

/**
 * Every decision about one concert (stream `concert-{concertId}`; its events and evolve
 * are in events/catalog.ts). Pure: ids and the time arrive in the command. Its seats are
 * their own streams, created by the seat decider's CreateSeat.
 */
export type ConcertCommand = { type: 'ScheduleConcert'; data: ScheduleConcert };

export interface ScheduleConcert {
  readonly concertId: string;
  readonly title: string;
  readonly scheduledAt: string;
  readonly dates: readonly {
    readonly concertTimeId: string;
    readonly concertTime: string;
    readonly reservationStartTime: string;
    readonly seats: readonly {
      readonly seatId: string;
      readonly seatNumber: number;
      readonly price: number;
    }[];
  }[];
}

export function decideConcert(
  command: ConcertCommand,
  state: ConcertState,
): Decision<ConcertEvent> {
  switch (command.type) {
    case 'ScheduleConcert':
      return decideScheduleConcert(command.data, state);
    default: {
      const _exhaustive: never = command.type;
      return _exhaustive;
    }
  }
}

/** Why this plan cannot be scheduled, if it cannot: checked before any seat is written. */
export function invalidPlan(command: ScheduleConcert): Refusal | undefined {
  if (command.dates.length === 0)
    return refuse('VALIDATION_FAILED', 'a concert needs at least one date');
  for (const [index, date] of command.dates.entries()) {
    if (Date.parse(date.reservationStartTime) > Date.parse(date.concertTime)) {
      return refuse(
        'VALIDATION_FAILED',
        `dates[${index}]: reservationStartTime must not be after concertTime`,
      );
    }
    if (date.seats.length === 0)
      return refuse('VALIDATION_FAILED', `dates[${index}]: a date needs at least one seat`);
    const numbers = new Set(date.seats.map((seat) => seat.seatNumber));
    if (numbers.size !== date.seats.length)
      return refuse(
        'VALIDATION_FAILED',
        `dates[${index}]: seat numbers must be unique within a date`,
      );
  }
  return undefined;
}

function decideScheduleConcert(
  command: ScheduleConcert,
  state: ConcertState,
): Decision<ConcertEvent> {
  // Ids come from the command id, so only a retry of this very command finds it scheduled.
  if (state.status !== 'unscheduled') return [];
  const invalid = invalidPlan(command);
  if (invalid) return invalid;
  return [
    {
      type: 'ConcertScheduled',
      data: {
        concertId: command.concertId,
        title: command.title,
        scheduledAt: command.scheduledAt,
        // Seats are their own streams: the event stays small however many there are.
        dates: command.dates.map((date) => ({
          concertTimeId: date.concertTimeId,
          concertTime: date.concertTime,
          reservationStartTime: date.reservationStartTime,
          totalSeats: date.seats.length,
        })),
      },
    },
  ];
}
