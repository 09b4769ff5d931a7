import { randomUUID } from 'node:crypto';
import { admitWaitingTokens } from '../../src/commands/admission.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { foldEvents } from '../../src/events/event.js';
import { tokenKind, tokenStream } from '../../src/events/token.js';
import { startSystem, type System } from '../../src/system.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
/** A second process on the same database: its own pool, store and projection runner. */
let other: System;
const capacity = 5;
beforeAll(async () => {
  system = await startTestSystem({ MAX_ACTIVE_TOKENS: String(capacity), TOKEN_TTL_SECONDS: '60' });
  other = await startSystem({ config: system.config, clock: system.clock, processes: false });
});
afterAll(async () => {
  await other.close();
  await system.drop();
});

const admissionDeps = (of: System) => ({ ...of, maxActiveTokens: capacity, tokenTtlSeconds: 60 });

async function activeTokens(userIds: readonly string[]) {
  const states = await Promise.all(
    userIds.map(async (userId) =>
      foldEvents(tokenKind, await system.store.readStream(tokenStream(userId))),
    ),
  );
  return states
    .filter((state) => state.current?.status === 'pass')
    .map((state) => state.current!.userId);
}

describe('admission', () => {
  it('never exceeds capacity with two admitters racing, and admits in FIFO order', async () => {
    const userIds = Array.from({ length: 12 }, (_, i) => `fifo-${i}-${randomUUID().slice(0, 6)}`);
    for (const userId of userIds) await issueToken(system, userId);

    // Two admitters in two "processes" on one database, round after round.
    for (let round = 0; round < 5; round++) {
      await Promise.all([
        admitWaitingTokens(admissionDeps(system)),
        admitWaitingTokens(admissionDeps(other)),
      ]);
      expect((await activeTokens(userIds)).length).toBeLessThanOrEqual(capacity);
    }
    expect(await activeTokens(userIds)).toEqual(userIds.slice(0, capacity));

    // When the passes run out, the next five in line get their turn.
    system.testClock.advance(61);
    for (let round = 0; round < 3; round++) {
      await Promise.all([
        admitWaitingTokens(admissionDeps(system)),
        admitWaitingTokens(admissionDeps(other)),
      ]);
    }
    expect(await activeTokens(userIds)).toEqual(userIds.slice(capacity, 2 * capacity));
  });
});
