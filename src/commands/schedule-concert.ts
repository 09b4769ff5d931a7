import { createHash, randomUUID } from 'node:crypto';
import {
  concertKind,
  concertStream,
  decideConcert,
  invalidPlan,
  type ScheduleConcert,
} from '../deciders/concert.js';
import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { refusalError } from './decision.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import {
  commandRetries,
  scheduleConcertAttempts,
  scheduleSeatWriteConcurrency,
} from '../policies.js';

export type { ScheduleConcert } from '../deciders/concert.js';

export interface ConcertPlan {
  readonly title: string;
  readonly dates: readonly {
    readonly concertTime: string;
    readonly reservationStartTime: string;
    readonly seats: readonly { readonly seatNumber: number; readonly price: number }[];
  }[];
}

/** A UUID (name-based, version 5 layout) derived from a command id and a name. */
export function derivedId(commandId: string, ...name: readonly (string | number)[]): string {
  const hex = createHash('sha256')
    .update([commandId, ...name].join('\u0000'))
    .digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Assigns ids to a plan: the service, not the caller, names concerts, times and seats.
 * They derive from the command id, so running the same command again names the same
 * streams and events, and a retry completes what a failed attempt started.
 */
export function planToCommand(
  plan: ConcertPlan,
  scheduledAt: string,
  commandId: string = randomUUID(),
): ScheduleConcert {
  return {
    concertId: derivedId(commandId, 'concert'),
    title: plan.title,
    scheduledAt,
    dates: plan.dates.map((date, dateIndex) => ({
      concertTimeId: derivedId(commandId, 'date', dateIndex),
      concertTime: new Date(date.concertTime).toISOString(),
      reservationStartTime: new Date(date.reservationStartTime).toISOString(),
      seats: date.seats.map((seat) => ({
        seatId: derivedId(commandId, 'seat', dateIndex, seat.seatNumber),
        ...seat,
      })),
    })),
  };
}

export interface ScheduleOptions {
  /** Names everything the command writes; the same id again resumes, never duplicates. */
  readonly commandId?: string;
}

/**
 * Seats first, concert last: the concert event is what makes the catalog visible, so a
 * failure half-way leaves only unreachable seat streams behind, never a concert with
 * missing seats. Every event id derives from the command id, so a failed attempt is
 * retried (here, up to three times, and by any caller with the same command id) and
 * completes the concert instead of writing a second one.
 */
export async function scheduleConcert(
  deps: { store: EventStore; clock: Clock },
  plan: ConcertPlan,
  options: ScheduleOptions = {},
): Promise<ScheduledConcert> {
  const commandId = options.commandId ?? randomUUID();
  const command = planToCommand(plan, deps.clock().toISOString(), commandId);
  // Checked before any seat is written, so a refused plan writes nothing.
  const invalid = invalidPlan(command);
  if (invalid) throw refusalError(invalid);
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeConcert(deps.store, command, commandId);
    } catch (error) {
      if (error instanceof DomainError || attempt >= scheduleConcertAttempts) throw error;
    }
  }
}

export interface ScheduledConcert {
  readonly concert: ScheduleConcert;
  readonly written: Written;
  /** False when the concert was already in the log (an earlier run of the same command id). */
  readonly scheduledNow: boolean;
}

async function writeConcert(
  store: EventStore,
  command: ScheduleConcert,
  commandId: string,
): Promise<ScheduledConcert> {
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
  let failure: { error: unknown } | undefined;
  // On a failure the other writers stop taking seats and finish theirs before the error
  // surfaces, so a retry never races a write of the attempt it replaces.
  await Promise.all(
    Array.from({ length: Math.min(scheduleSeatWriteConcurrency, seats.length) }, async () => {
      while (next < seats.length && !failure) {
        const seat = seats[next++]!;
        await handleCommand(
          store,
          seatStream(seat.seatId),
          seatKind,
          (state) => decideSeat({ type: 'CreateSeat', data: seat }, state),
          {
            retries: commandRetries.createSeat,
            eventIds: () => derivedId(commandId, 'seat-created', seat.seatId),
          },
        ).catch((error: unknown) => {
          failure ??= { error };
        });
      }
    }),
  );
  if (failure) throw failure.error;
  const stream = concertStream(command.concertId);
  const handled = await handleCommand(
    store,
    stream,
    concertKind,
    (state) => decideConcert({ type: 'ScheduleConcert', data: command }, state),
    {
      retries: commandRetries.scheduleConcert,
      eventIds: () => derivedId(commandId, 'concert-scheduled'),
    },
  );
  // A retry after the concert was written: wait for that event, found in its stream.
  const [existing] = handled.appended
    ? []
    : await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
  return {
    concert: command,
    scheduledNow: handled.events.length > 0,
    written: writtenBy(handled, {
      position: existing?.position,
      eventTypes: ['SeatCreated', 'ConcertScheduled'],
    }),
  };
}
