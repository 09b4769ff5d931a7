import { randomUUID } from 'node:crypto';
import { admitWaitingTokens } from '../../src/commands/admission.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { revokeToken } from '../../src/commands/revoke-token.js';
import type { EventStore, StreamAppend } from '../../src/events/store/port.js';
import { startSystem, type System } from '../../src/system.js';
import { checkQueueInvariants } from '../../sim/queue-invariants.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

/**
 * An admission round appends its admissions together (one transaction on PostgreSQL), so
 * the tokens projection and every waiting stream see a round's move at once, not token by
 * token. A token stream that moved on meanwhile sends the round one token at a time.
 */
let system: TestSystem;
/** A second process on the same database, for the user who leaves mid-round. */
let other: System;
const capacity = 5;
beforeEach(async () => {
  system = await startTestSystem({ MAX_ACTIVE_TOKENS: String(capacity), TOKEN_TTL_SECONDS: '60' });
  other = await startSystem({ config: system.config, clock: system.clock, processes: false });
});
afterEach(async () => {
  await other.close();
  await system.drop();
});

const deps = (store: EventStore) => ({
  ...system,
  store,
  maxActiveTokens: capacity,
  tokenTtlSeconds: 60,
});

async function join(count: number): Promise<string[]> {
  const userIds = Array.from(
    { length: count },
    (_, i) => `together-${i}-${randomUUID().slice(0, 6)}`,
  );
  for (const userId of userIds) await issueToken(system, userId);
  return userIds;
}

async function admissions() {
  const log = await system.store.readAll({ maxCount: 100_000 });
  return { log, admitted: log.filter((event) => event.type === 'TokenAdmitted') };
}

describe('an admission round', () => {
  it('appends its admissions in one transaction, in queue order', async () => {
    const userIds = await join(capacity + 2);
    const round = await admitWaitingTokens(deps(system.store));
    expect(round?.admitted).toBe(capacity);
    const { log, admitted } = await admissions();
    expect(admitted.map((event) => (event.data as { userId: string }).userId)).toEqual(
      userIds.slice(0, capacity),
    );
    expect(new Set(admitted.map((event) => event.position.commit)).size).toBe(1);
    expect(checkQueueInvariants(log)).toEqual([]);
  });

  it('goes one token at a time when a user leaves while it appends', async () => {
    const userIds = await join(capacity + 2);
    const leaver = userIds[1]!;
    let calls = 0;
    // The leaver's revocation commits just before the round's append: its token stream
    // has moved on, so the append together fails and nothing of it lands.
    const store = new Proxy(system.store, {
      get(target, property, receiver) {
        if (property !== 'appendToStreams')
          return Reflect.get(target, property, receiver) as unknown;
        return async (appends: readonly StreamAppend[]) => {
          if (calls++ === 0) await revokeToken(other, leaver);
          return target.appendToStreams(appends);
        };
      },
    });
    const round = await admitWaitingTokens(deps(store));
    expect(calls).toBe(1);
    expect(round?.admitted).toBe(capacity - 1);
    const { log, admitted } = await admissions();
    expect(admitted.map((event) => (event.data as { userId: string }).userId)).toEqual(
      userIds.slice(0, capacity).filter((userId) => userId !== leaver),
    );
    expect(checkQueueInvariants(log)).toEqual([]);
  });
});
