import { z } from 'zod';
import { isoTime, type StreamKind } from './event.js';

/**
 * Stream `concert-{concertId}`: the concert as scheduled, with its dates and how many seats
 * each has. The seats themselves are their own streams (`SeatCreated`), written first:
 * an event stays small (KurrentDB refuses appends over 1 MiB by default) however large
 * the hall. Events written before that carried `seats` inline; both forms are read.
 */
export const concertStream = (concertId: string) => `concert-${concertId}`;

export const concertScheduled = z.object({
  type: z.literal('ConcertScheduled'),
  data: z.object({
    concertId: z.string(),
    title: z.string(),
    scheduledAt: isoTime,
    dates: z.array(
      z.object({
        concertTimeId: z.string(),
        concertTime: isoTime,
        reservationStartTime: isoTime,
        totalSeats: z.number().int().optional(),
        /** Only in events written before seats left this event. */
        seats: z
          .array(
            z.object({ seatId: z.string(), seatNumber: z.number().int(), price: z.number().int() }),
          )
          .optional(),
      }),
    ),
  }),
});

export const concertEventSchema = z.discriminatedUnion('type', [concertScheduled]);
export type ConcertEvent = z.infer<typeof concertEventSchema>;
export type ConcertScheduled = z.infer<typeof concertScheduled>;

export type ConcertState =
  { status: 'unscheduled' } | { status: 'scheduled'; concert: ConcertScheduled['data'] };

export const concertKind: StreamKind<ConcertState, ConcertEvent> = {
  schema: concertEventSchema,
  initialState: () => ({ status: 'unscheduled' }),
  evolve: (_state, event) => {
    switch (event.type) {
      case 'ConcertScheduled':
        return { status: 'scheduled', concert: event.data };
      default: {
        const _exhaustive: never = event.type;
        return _exhaustive;
      }
    }
  },
};
