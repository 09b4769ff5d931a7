import { randomUUID } from 'node:crypto';
import { decideToken, tokenKind, tokenStream } from '../deciders/token.js';
import type { Token } from '../events/token.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

/** A user keeps one live token: asking again gives it back instead of a new one. */
export async function issueToken(
  deps: { store: EventStore; clock: Clock },
  userId: string,
): Promise<{ token: Token; created: boolean; written: Written }> {
  const data = { userId, tokenId: randomUUID(), now: deps.clock().toISOString() };
  const handled = await handleCommand(
    deps.store,
    tokenStream(userId),
    tokenKind,
    (state) => decideToken({ type: 'IssueToken', data }, state),
    // A new user's token stream does not exist yet: append without reading it first.
    { retries: commandRetries.issueToken, likelyNew: true },
  );
  return {
    token: handled.state.current!,
    created: handled.events.some((event) => event.type === 'TokenIssued'),
    written: writtenBy(handled),
  };
}
