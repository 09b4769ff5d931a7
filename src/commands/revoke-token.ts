import { decideToken, tokenKind, tokenStream } from '../deciders/token.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

/** An operator ends a user's live token; NOT_FOUND if the user has none. */
export async function revokeToken(
  deps: { store: EventStore; clock: Clock },
  userId: string,
  note?: string,
): Promise<{ tokenId: string; written: Written }> {
  const data = { userId, now: deps.clock().toISOString(), ...(note ? { note } : {}) };
  const handled = await handleCommand(
    deps.store,
    tokenStream(userId),
    tokenKind,
    (state) => decideToken({ type: 'RevokeToken', data }, state),
    { retries: commandRetries.revokeToken },
  );
  return { tokenId: handled.state.current!.tokenId, written: writtenBy(handled) };
}
