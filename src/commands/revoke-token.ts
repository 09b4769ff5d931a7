import { tokenKind, tokenStream, type TokenEvent, type TokenState } from '../events/token.js';
import type { EventStore } from '../events/store/port.js';
import { isAtOrAfter, type Clock } from './clock.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface RevokeToken {
  readonly userId: string;
  readonly note?: string;
  readonly now: string;
}

/** An operator ends a user's live token (waiting or admitted) at once. */
export function decideRevokeToken(command: RevokeToken, state: TokenState): TokenEvent[] {
  const current = state.current;
  const live =
    current?.status === 'hold' ||
    (current?.status === 'pass' && !isAtOrAfter(command.now, current.expiresAt));
  if (!current || !live)
    throw new DomainError('NOT_FOUND', `user ${command.userId} has no live queue token`);
  return [
    {
      type: 'TokenExpired',
      data: {
        tokenId: current.tokenId,
        userId: current.userId,
        reason: 'revoked',
        expiredAt: command.now,
        ...(command.note !== undefined ? { note: command.note } : {}),
      },
    },
  ];
}

export async function revokeToken(
  deps: { store: EventStore; clock: Clock },
  userId: string,
  note?: string,
): Promise<{ tokenId: string; written: Written }> {
  const command = { userId, now: deps.clock().toISOString(), ...(note ? { note } : {}) };
  const handled = await handleCommand(
    deps.store,
    tokenStream(userId),
    tokenKind,
    (state) => decideRevokeToken(command, state),
    { retries: commandRetries.revokeToken },
  );
  return { tokenId: handled.state.current!.tokenId, written: writtenBy(handled) };
}
