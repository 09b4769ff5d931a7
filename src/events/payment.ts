import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../commands/errors.js';
import { isoTime, money, type StreamKind } from './event.js';

/** Stream `payment-{paymentId}`: the payment process across the seat, wallet and token streams. */
export const paymentStream = (paymentId: string) => `payment-${paymentId}`;

const paymentStarted = z.object({
  type: z.literal('PaymentStarted'),
  data: z.object({
    paymentId: z.string(),
    reservationId: z.string(),
    seatId: z.string(),
    userId: z.string(),
    tokenId: z.string(),
    amount: money,
    startedAt: isoTime,
  }),
});
const paymentCompleted = z.object({
  type: z.literal('PaymentCompleted'),
  data: z.object({ paymentId: z.string(), balance: money, completedAt: isoTime }),
});
const paymentFailed = z.object({
  type: z.literal('PaymentFailed'),
  data: z.object({
    paymentId: z.string(),
    /** Why it failed: one of the API's error codes (every code written so far is one). */
    code: z.enum(errorCodes),
    refunded: z.boolean(),
    failedAt: isoTime,
  }),
});

export const paymentEventSchema = z.discriminatedUnion('type', [
  paymentStarted,
  paymentCompleted,
  paymentFailed,
]);
export type PaymentEvent = z.infer<typeof paymentEventSchema>;
export type PaymentStarted = z.infer<typeof paymentStarted>;

export type PaymentState =
  | { status: 'none' }
  | { status: 'pending'; payment: PaymentStarted['data'] }
  | { status: 'paid'; payment: PaymentStarted['data']; balance: number; completedAt: string }
  | { status: 'failed'; payment: PaymentStarted['data']; code: ErrorCode; refunded: boolean };

export const paymentKind: StreamKind<PaymentState, PaymentEvent> = {
  schema: paymentEventSchema,
  initialState: () => ({ status: 'none' }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'PaymentStarted':
        return { status: 'pending', payment: event.data };
      case 'PaymentCompleted':
        if (state.status !== 'pending') return state;
        return {
          status: 'paid',
          payment: state.payment,
          balance: event.data.balance,
          completedAt: event.data.completedAt,
        };
      case 'PaymentFailed':
        if (state.status !== 'pending') return state;
        return {
          status: 'failed',
          payment: state.payment,
          code: event.data.code,
          refunded: event.data.refunded,
        };
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
