import { decideQueue, queueKind, queueStream } from '../deciders/queue.js';
import type { EventStore } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import type { Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { cryptoRandomInt, drawOrder, type RandomInt } from './queue-draw.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface OpeningDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly clock: Clock;
  readonly runner: ProjectionRunner;
  /** The draw's randomness; the cryptographic source unless a test injects a seeded one. */
  readonly random?: RandomInt;
}

export const tokensProjectionTypes = [
  'TokenIssued',
  'TokenAdmitted',
  'TokenExpired',
  'QueueConfigured',
  'QueueSettingsChanged',
  'QueueOpened',
  'PrequeueDrawn',
];

/**
 * Opens a pre-queue whose time has come (QueueOpened: the cut in log order), then draws
 * the order of that round's tokens (PrequeueDrawn). The draw runs only after the tokens
 * projection has passed the cut, so it sees every token issued before it, exactly the
 * round's tokens; tokens issued after the cut are not in it. Two drawers may race (the
 * admitter, a PATCH): the stream's expected revision lets one draw in, the other then
 * decides nothing. Returns what it wrote, and whether a draw is still to be made.
 */
export async function openAndDraw(
  deps: OpeningDeps,
): Promise<Written & { drawPending?: true }> {
  const now = deps.clock().toISOString();
  const opened = await handleCommand(
    deps.store,
    queueStream,
    queueKind,
    (state) => decideQueue({ type: 'OpenQueueIfDue', data: { now } }, state),
    { retries: commandRetries.queue },
  );
  const round = opened.state.pendingDraw;
  if (round === undefined) return writtenBy(opened);
  const head = await deps.store.headPosition({ eventTypes: tokensProjectionTypes });
  if (!(await deps.runner.waitFor({ position: head, eventTypes: ['QueueOpened'] }, 10_000)))
    return { ...writtenBy(opened), drawPending: true }; // the next round tries again
  const waiting = await deps.db
    .selectFrom('tokens')
    .select('token_id')
    .where('draw_round', '=', round)
    .where('status', '=', 'hold')
    .where('queue_number', 'is', null)
    .orderBy('issued_at')
    .orderBy('token_id')
    .execute();
  const order = drawOrder(
    waiting.map((row) => row.token_id),
    deps.random ?? cryptoRandomInt,
  );
  const drawn = await handleCommand(
    deps.store,
    queueStream,
    queueKind,
    (state) => decideQueue({ type: 'DrawPrequeue', data: { round, order, now } }, state),
    { retries: commandRetries.queue },
  );
  return writtenBy(opened, drawn);
}
