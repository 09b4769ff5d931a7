import { z } from 'zod';
import { isoTime, money, type StreamKind } from './event.js';

/** Stream `wallet-{userId}`: a user's balance in whole KRW. */
export const walletStream = (userId: string) => `wallet-${userId}`;

const walletCharged = z.object({
  type: z.literal('WalletCharged'),
  data: z.object({
    userId: z.string(),
    chargeId: z.string(),
    amount: money,
    balance: money,
    chargedAt: isoTime,
  }),
});
const walletDebited = z.object({
  type: z.literal('WalletDebited'),
  data: z.object({
    userId: z.string(),
    paymentId: z.string(),
    amount: money,
    balance: money,
    debitedAt: isoTime,
  }),
});
const walletRefunded = z.object({
  type: z.literal('WalletRefunded'),
  data: z.object({
    userId: z.string(),
    paymentId: z.string(),
    amount: money,
    balance: money,
    refundedAt: isoTime,
  }),
});

export const walletEventSchema = z.discriminatedUnion('type', [
  walletCharged,
  walletDebited,
  walletRefunded,
]);
export type WalletEvent = z.infer<typeof walletEventSchema>;

export interface WalletState {
  readonly balance: number;
  /** Charges by id with the balance right after them, to answer a retried request alike. */
  readonly charges: Readonly<Record<string, { amount: number; balance: number }>>;
  readonly debits: Readonly<Record<string, number>>;
  readonly refunds: Readonly<Record<string, number>>;
}

export const walletKind: StreamKind<WalletState, WalletEvent> = {
  schema: walletEventSchema,
  initialState: () => ({ balance: 0, charges: {}, debits: {}, refunds: {} }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'WalletCharged':
        return {
          ...state,
          balance: event.data.balance,
          charges: {
            ...state.charges,
            [event.data.chargeId]: { amount: event.data.amount, balance: event.data.balance },
          },
        };
      case 'WalletDebited':
        return {
          ...state,
          balance: event.data.balance,
          debits: { ...state.debits, [event.data.paymentId]: event.data.amount },
        };
      case 'WalletRefunded':
        return {
          ...state,
          balance: event.data.balance,
          refunds: { ...state.refunds, [event.data.paymentId]: event.data.amount },
        };
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
