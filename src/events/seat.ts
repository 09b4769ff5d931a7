import { z } from 'zod';
import { isoTime, money, type StreamKind } from './event.js';

/** Stream `seat-{seatId}`: one seat of one concert time, through its holds and payment. */
export const seatStream = (seatId: string) => `seat-${seatId}`;

const seatCreated = z.object({
  type: z.literal('SeatCreated'),
  data: z.object({
    seatId: z.string(),
    concertId: z.string(),
    concertTimeId: z.string(),
    seatNumber: z.number().int(),
    price: money,
    concertTime: isoTime,
    reservationStartTime: isoTime,
  }),
});
const seatHeld = z.object({
  type: z.literal('SeatHeld'),
  data: z.object({
    seatId: z.string(),
    concertTimeId: z.string(),
    reservationId: z.string(),
    userId: z.string(),
    price: money,
    heldAt: isoTime,
    holdExpiresAt: isoTime,
  }),
});
const seatHoldExpired = z.object({
  type: z.literal('SeatHoldExpired'),
  data: z.object({
    seatId: z.string(),
    concertTimeId: z.string(),
    reservationId: z.string(),
    userId: z.string(),
    expiredAt: isoTime,
  }),
});
const seatPaymentStarted = z.object({
  type: z.literal('SeatPaymentStarted'),
  data: z.object({
    seatId: z.string(),
    reservationId: z.string(),
    paymentId: z.string(),
    userId: z.string(),
    amount: money,
    startedAt: isoTime,
  }),
});
const seatPaymentCancelled = z.object({
  type: z.literal('SeatPaymentCancelled'),
  data: z.object({
    seatId: z.string(),
    reservationId: z.string(),
    paymentId: z.string(),
    reason: z.string(),
    cancelledAt: isoTime,
  }),
});
const seatPaid = z.object({
  type: z.literal('SeatPaid'),
  data: z.object({
    seatId: z.string(),
    concertTimeId: z.string(),
    reservationId: z.string(),
    paymentId: z.string(),
    userId: z.string(),
    amount: money,
    paidAt: isoTime,
  }),
});

export const seatEventSchema = z.discriminatedUnion('type', [
  seatCreated,
  seatHeld,
  seatHoldExpired,
  seatPaymentStarted,
  seatPaymentCancelled,
  seatPaid,
]);
export type SeatEvent = z.infer<typeof seatEventSchema>;
export type SeatCreated = z.infer<typeof seatCreated>;
export type SeatHeld = z.infer<typeof seatHeld>;

export type SeatInfo = SeatCreated['data'];
export interface Hold {
  readonly reservationId: string;
  readonly userId: string;
  readonly price: number;
  readonly heldAt: string;
  readonly holdExpiresAt: string;
}
/** Every reservation this seat has had, so a late request about an old one gets a clear answer. */
export type PastReservations = Readonly<
  Record<string, { userId: string; outcome: 'expired' | 'paid' }>
>;

export type SeatState =
  | { status: 'unknown' }
  | { status: 'empty'; seat: SeatInfo; past: PastReservations }
  | { status: 'holding'; seat: SeatInfo; past: PastReservations; hold: Hold }
  | { status: 'paying'; seat: SeatInfo; past: PastReservations; hold: Hold; paymentId: string }
  | { status: 'paid'; seat: SeatInfo; past: PastReservations; hold: Hold; paymentId: string };

export const seatKind: StreamKind<SeatState, SeatEvent> = {
  schema: seatEventSchema,
  initialState: () => ({ status: 'unknown' }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'SeatCreated':
        return { status: 'empty', seat: event.data, past: {} };
      case 'SeatHeld': {
        if (state.status === 'unknown') return state;
        const { reservationId, userId, price, heldAt, holdExpiresAt } = event.data;
        return {
          status: 'holding',
          seat: state.seat,
          past: state.past,
          hold: { reservationId, userId, price, heldAt, holdExpiresAt },
        };
      }
      case 'SeatHoldExpired': {
        if (state.status === 'unknown') return state;
        const past = {
          ...state.past,
          [event.data.reservationId]: { userId: event.data.userId, outcome: 'expired' as const },
        };
        return { status: 'empty', seat: state.seat, past };
      }
      case 'SeatPaymentStarted':
        if (state.status !== 'holding') return state;
        return { ...state, status: 'paying', paymentId: event.data.paymentId };
      case 'SeatPaymentCancelled':
        if (state.status !== 'paying') return state;
        return { status: 'holding', seat: state.seat, past: state.past, hold: state.hold };
      case 'SeatPaid': {
        if (state.status !== 'paying' && state.status !== 'holding') return state;
        const past = {
          ...state.past,
          [event.data.reservationId]: { userId: event.data.userId, outcome: 'paid' as const },
        };
        return {
          status: 'paid',
          seat: state.seat,
          past,
          hold: state.hold,
          paymentId: event.data.paymentId,
        };
      }
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
