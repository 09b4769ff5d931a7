import { z } from 'zod';
import { isoTime, type StreamKind } from './event.js';

/**
 * Stream `token-{userId}`: the user's queue tokens, one live at a time. The queue order is
 * the log order of TokenIssued events.
 */
export const tokenStream = (userId: string) => `token-${userId}`;

const tokenIssued = z.object({
  type: z.literal('TokenIssued'),
  data: z.object({ tokenId: z.string(), userId: z.string(), issuedAt: isoTime }),
});
const tokenAdmitted = z.object({
  type: z.literal('TokenAdmitted'),
  data: z.object({
    tokenId: z.string(),
    userId: z.string(),
    admittedAt: isoTime,
    expiresAt: isoTime,
  }),
});
const tokenExpired = z.object({
  type: z.literal('TokenExpired'),
  data: z.object({
    tokenId: z.string(),
    userId: z.string(),
    reason: z.enum(['ttl', 'payment', 'revoked']),
    expiredAt: isoTime,
    /** An operator's note on a revocation. */
    note: z.string().optional(),
  }),
});

export const tokenEventSchema = z.discriminatedUnion('type', [
  tokenIssued,
  tokenAdmitted,
  tokenExpired,
]);
export type TokenEvent = z.infer<typeof tokenEventSchema>;

export type Token =
  | { status: 'hold'; tokenId: string; userId: string; createdAt: string; updatedAt: string }
  | {
      status: 'pass';
      tokenId: string;
      userId: string;
      createdAt: string;
      updatedAt: string;
      expiresAt: string;
    }
  | { status: 'expired'; tokenId: string; userId: string; createdAt: string; updatedAt: string };

export interface TokenState {
  readonly current: Token | undefined;
}

export const tokenKind: StreamKind<TokenState, TokenEvent> = {
  schema: tokenEventSchema,
  initialState: () => ({ current: undefined }),
  evolve: (state, event) => {
    const current = state.current;
    switch (event.type) {
      case 'TokenIssued': {
        const { tokenId, userId, issuedAt } = event.data;
        return {
          current: { status: 'hold', tokenId, userId, createdAt: issuedAt, updatedAt: issuedAt },
        };
      }
      case 'TokenAdmitted':
        if (current?.tokenId !== event.data.tokenId || current.status !== 'hold') return state;
        return {
          current: {
            ...current,
            status: 'pass',
            updatedAt: event.data.admittedAt,
            expiresAt: event.data.expiresAt,
          },
        };
      case 'TokenExpired': {
        if (current?.tokenId !== event.data.tokenId || current.status === 'expired') return state;
        const { tokenId, userId, createdAt } = current;
        return {
          current: {
            status: 'expired',
            tokenId,
            userId,
            createdAt,
            updatedAt: event.data.expiredAt,
          },
        };
      }
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
