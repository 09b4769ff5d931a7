import { randomUUID } from 'node:crypto';
import {
  tokenKind,
  tokenStream,
  type Token,
  type TokenEvent,
  type TokenState,
} from '../events/token.js';
import type { EventStore } from '../events/store/port.js';
import { isAtOrAfter, type Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface IssueToken {
  readonly userId: string;
  /** A fresh random UUID (122 random bits), used only if a new token is issued. */
  readonly tokenId: string;
  readonly now: string;
}

/** A user keeps one live token; a new one joins the back of the queue. */
export function decideIssueToken(command: IssueToken, state: TokenState): TokenEvent[] {
  const current = state.current;
  if (current?.status === 'hold') return [];
  if (current?.status === 'pass' && !isAtOrAfter(command.now, current.expiresAt)) return [];
  const events: TokenEvent[] = [];
  if (current?.status === 'pass') {
    events.push({
      type: 'TokenExpired',
      data: {
        tokenId: current.tokenId,
        userId: command.userId,
        reason: 'ttl',
        expiredAt: current.expiresAt,
      },
    });
  }
  events.push({
    type: 'TokenIssued',
    data: { tokenId: command.tokenId, userId: command.userId, issuedAt: command.now },
  });
  return events;
}

export async function issueToken(
  deps: { store: EventStore; clock: Clock },
  userId: string,
): Promise<{ token: Token; created: boolean; written: Written }> {
  const command = { userId, tokenId: randomUUID(), now: deps.clock().toISOString() };
  const handled = await handleCommand(
    deps.store,
    tokenStream(userId),
    tokenKind,
    (state) => decideIssueToken(command, state),
    {
      retries: commandRetries.issueToken,
      likelyNew: true,
    },
  );
  return {
    token: handled.state.current!,
    created: handled.events.some((event) => event.type === 'TokenIssued'),
    written: writtenBy(handled),
  };
}
