import { randomUUID } from 'node:crypto';
import {
  concertKind,
  concertStream,
  type ConcertEvent,
  type ConcertState,
} from '../events/catalog.js';
import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';

export interface ConcertPlan {
  readonly title: string;
  readonly dates: readonly {
    readonly concertTime: string;
    readonly reservationStartTime: string;
    readonly seats: readonly { readonly seatNumber: number; readonly price: number }[];
  }[];
}

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

export function decideScheduleConcert(
  command: ScheduleConcert,
  state: ConcertState,
): ConcertEvent[] {
  if (state.status !== 'unscheduled')
    throw new DomainError('VALIDATION_FAILED', 'this concert is already scheduled');
  if (command.dates.length === 0)
    throw new DomainError('VALIDATION_FAILED', 'a concert needs at least one date');
  command.dates.forEach((date, index) => {
    if (Date.parse(date.reservationStartTime) > Date.parse(date.concertTime)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `dates[${index}]: reservationStartTime must not be after concertTime`,
      );
    }
    if (date.seats.length === 0)
      throw new DomainError('VALIDATION_FAILED', `dates[${index}]: a date needs at least one seat`);
    const numbers = new Set(date.seats.map((seat) => seat.seatNumber));
    if (numbers.size !== date.seats.length) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `dates[${index}]: seat numbers must be unique within a date`,
      );
    }
  });
  return [
    {
      type: 'ConcertScheduled',
      data: {
        ...command,
        dates: command.dates.map((date) => ({ ...date, seats: [...date.seats] })),
      },
    },
  ];
}

/** Assigns ids to a plan: the service, not the caller, names concerts, times and seats. */
export function planToCommand(plan: ConcertPlan, scheduledAt: string): ScheduleConcert {
  return {
    concertId: randomUUID(),
    title: plan.title,
    scheduledAt,
    dates: plan.dates.map((date) => ({
      concertTimeId: randomUUID(),
      concertTime: new Date(date.concertTime).toISOString(),
      reservationStartTime: new Date(date.reservationStartTime).toISOString(),
      seats: date.seats.map((seat) => ({ seatId: randomUUID(), ...seat })),
    })),
  };
}

const seatWriteConcurrency = 16;

/**
 * Seats first, concert last: the concert event is what makes the catalog visible, so a
 * crash half-way leaves only unreachable seat streams behind, never a concert with
 * missing seats.
 */
export async function scheduleConcert(
  deps: { store: EventStore; clock: Clock },
  plan: ConcertPlan,
): Promise<{ concert: ScheduleConcert; written: Written }> {
  const command = planToCommand(plan, deps.clock().toISOString());
  decideScheduleConcert(command, concertKind.initialState());
  const seats = command.dates.flatMap((date) =>
    date.seats.map((seat) => ({
      ...seat,
      concertId: command.concertId,
      concertTimeId: date.concertTimeId,
      concertTime: date.concertTime,
      reservationStartTime: date.reservationStartTime,
    })),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(seatWriteConcurrency, seats.length) }, async () => {
      while (next < seats.length) {
        const seat = seats[next++]!;
        await handleCommand(deps.store, seatStream(seat.seatId), seatKind, (state) =>
          decideSeat({ type: 'CreateSeat', data: seat }, state),
        );
      }
    }),
  );
  const handled = await handleCommand(
    deps.store,
    concertStream(command.concertId),
    concertKind,
    (state) => decideScheduleConcert(command, state),
  );
  return {
    concert: command,
    written: writtenBy(handled, { position: undefined, eventTypes: ['SeatCreated'] }),
  };
}
