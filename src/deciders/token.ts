import { addSeconds, isAtOrAfter } from '../commands/clock.js';
import { refuse, type Decision } from '../commands/decision.js';
import type { Token, TokenEvent, TokenState } from '../events/token.js';

export { tokenKind, tokenStream, type TokenEvent, type TokenState } from '../events/token.js';

/**
 * Every decision about a user's queue tokens (stream `token-{userId}`; its events and
 * evolve are in events/token.ts). Pure: time and ids arrive in the command.
 */
export type TokenCommand =
  | { type: 'IssueToken'; data: IssueToken }
  | { type: 'AdmitToken'; data: { tokenId: string; now: string; ttlSeconds: number } }
  | { type: 'ExpireToken'; data: { tokenId: string; now: string } }
  | { type: 'ExpireTokenAfterPayment'; data: { tokenId: string; now: string } }
  | { type: 'RevokeToken'; data: RevokeToken };

export interface IssueToken {
  readonly userId: string;
  /** A fresh random UUID (122 random bits), used only if a new token is issued. */
  readonly tokenId: string;
  readonly now: string;
}

export interface RevokeToken {
  readonly userId: string;
  readonly note?: string;
  readonly now: string;
}

export function decideToken(command: TokenCommand, state: TokenState): Decision<TokenEvent> {
  switch (command.type) {
    case 'IssueToken':
      return decideIssueToken(command.data, state);
    case 'AdmitToken':
      return decideAdmitToken(command.data, state);
    case 'ExpireToken':
      return decideExpireToken(command.data, state);
    case 'ExpireTokenAfterPayment':
      return decideExpireTokenAfterPayment(command.data, state);
    case 'RevokeToken':
      return decideRevokeToken(command.data, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

const expired = (
  token: Token,
  reason: 'ttl' | 'payment' | 'revoked',
  expiredAt: string,
  note?: string,
): TokenEvent => ({
  type: 'TokenExpired',
  data: {
    tokenId: token.tokenId,
    userId: token.userId,
    reason,
    expiredAt,
    ...(note !== undefined ? { note } : {}),
  },
});

/** A user keeps one live token; a new one joins the back of the queue. */
function decideIssueToken(command: IssueToken, state: TokenState): TokenEvent[] {
  const current = state.current;
  if (current?.status === 'hold') return [];
  if (current?.status === 'pass' && !isAtOrAfter(command.now, current.expiresAt)) return [];
  const events: TokenEvent[] = [];
  // The pass ran out; the admission round may not have expired it yet.
  if (current?.status === 'pass') events.push(expired(current, 'ttl', current.expiresAt));
  events.push({
    type: 'TokenIssued',
    data: { tokenId: command.tokenId, userId: command.userId, issuedAt: command.now },
  });
  return events;
}

/** Only the current waiting token is admitted, and only once. */
function decideAdmitToken(
  command: { tokenId: string; now: string; ttlSeconds: number },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== command.tokenId || current.status !== 'hold') return [];
  return [
    {
      type: 'TokenAdmitted',
      data: {
        tokenId: current.tokenId,
        userId: current.userId,
        admittedAt: command.now,
        expiresAt: addSeconds(command.now, command.ttlSeconds),
      },
    },
  ];
}

/** A pass expires at its own expiry time, whenever the admission round gets to it. */
function decideExpireToken(
  command: { tokenId: string; now: string },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== command.tokenId || current.status !== 'pass') return [];
  if (!isAtOrAfter(command.now, current.expiresAt)) return [];
  return [expired(current, 'ttl', current.expiresAt)];
}

/** A paid booking frees the user's slot in the queue at once. */
function decideExpireTokenAfterPayment(
  command: { tokenId: string; now: string },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== command.tokenId || current.status === 'expired') return [];
  return [expired(current, 'payment', command.now)];
}

/** An operator ends a user's live token (waiting or admitted) at once. */
function decideRevokeToken(command: RevokeToken, state: TokenState): Decision<TokenEvent> {
  const current = state.current;
  const live =
    current?.status === 'hold' ||
    (current?.status === 'pass' && !isAtOrAfter(command.now, current.expiresAt));
  if (!current || !live)
    return refuse('NOT_FOUND', `user ${command.userId} has no live queue token`);
  return [expired(current, 'revoked', command.now, command.note)];
}
