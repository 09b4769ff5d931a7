import { z } from 'zod';
import { isoTime, type StreamKind } from './event.js';

/** Stream `concert-{concertId}`: the concert as scheduled, with its dates and seats. */
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
        seats: z.array(
          z.object({ seatId: z.string(), seatNumber: z.number().int(), price: z.number().int() }),
        ),
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
