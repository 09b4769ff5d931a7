import { jest } from '@jest/globals';
import { z } from 'zod';
import { charge } from '../../src/commands/charge.js';
import { refuse, type Decision } from '../../src/commands/decision.js';
import { walletStream } from '../../src/deciders/wallet.js';
import { tryCommand } from '../../src/commands/handle-command.js';
import { streamStateCache } from '../../src/commands/stream-cache.js';
import type { StreamKind } from '../../src/events/event.js';
import { PostgresEventStore } from '../../src/events/store/postgres/store.js';
import { createPool } from '../../src/infrastructure/pool.js';
import { createTestDatabase } from '../support/database.js';

/** A gate that opens and closes: closing a closed gate is refused. */
const gateEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('GateOpened'), data: z.object({ by: z.string() }) }),
  z.object({ type: z.literal('GateClosed'), data: z.object({ by: z.string() }) }),
]);
type GateEvent = z.infer<typeof gateEvent>;
const gateKind: StreamKind<{ open: boolean; changes: number }, GateEvent> = {
  schema: gateEvent,
  initialState: () => ({ open: false, changes: 0 }),
  evolve: (state, event) => ({ open: event.type === 'GateOpened', changes: state.changes + 1 }),
};
const open =
  (by: string) =>
  (state: { open: boolean }): Decision<GateEvent> =>
    state.open
      ? refuse('CONCURRENCY_CONFLICT', 'already open')
      : [{ type: 'GateOpened', data: { by } }];
const close =
  (by: string) =>
  (state: { open: boolean }): Decision<GateEvent> =>
    state.open
      ? [{ type: 'GateClosed', data: { by } }]
      : refuse('CONCURRENCY_CONFLICT', 'already closed');

/** Two stores on one database stand for two API processes, each with its own cache. */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const pools: ReturnType<typeof createPool>[] = [];
let first: PostgresEventStore;
let second: PostgresEventStore;
beforeAll(async () => {
  database = await createTestDatabase();
  for (let i = 0; i < 2; i++) pools.push(createPool(database.url, 5));
  first = await PostgresEventStore.create(pools[0]!);
  second = await PostgresEventStore.create(pools[1]!);
});
afterAll(async () => {
  await first.close();
  await second.close();
  for (const pool of pools) await pool.end();
  await database.drop();
});

describe('the command loop with cached stream states', () => {
  it('appends against the cached revision after another process wrote: re-read, not a conflict', async () => {
    const gate = 'gate-stale-append';
    await tryCommand(first, gate, gateKind, open('first'));
    await tryCommand(second, gate, gateKind, close('second'));
    // The first process's cache still says open at revision 0: closing appends against
    // it, conflicts, and the fresh read refuses; with no retries allowed, the stale cache
    // must not surface as CONCURRENCY_CONFLICT.
    const outcome = await tryCommand(first, gate, gateKind, close('first'), { retries: 0 });
    expect('refusal' in outcome && outcome.refusal.message).toBe('already closed');
    const events = await first.readStream(gate);
    expect(events.map((event) => event.type)).toEqual(['GateOpened', 'GateClosed']);
  });

  it('never refuses from a cached state: a refusal is confirmed on a fresh read', async () => {
    const gate = 'gate-stale-refusal';
    await tryCommand(first, gate, gateKind, open('first'));
    await tryCommand(first, gate, gateKind, close('first'));
    // Another process reopens; the first process's cache still says closed.
    await tryCommand(second, gate, gateKind, open('second'));
    const outcome = await tryCommand(first, gate, gateKind, close('first'), { retries: 0 });
    expect('refusal' in outcome).toBe(false);
    expect(outcome.state).toEqual({ open: false, changes: 4 });
    expect((await first.readStream(gate)).map((event) => event.data)).toEqual([
      { by: 'first' },
      { by: 'first' },
      { by: 'second' },
      { by: 'first' },
    ]);
  });

  it('keeps exclusivity from the expected revision: of 20 concurrent opens across two processes, one wins', async () => {
    const gate = 'gate-race';
    await tryCommand(first, gate, gateKind, open('setup'));
    await tryCommand(second, gate, gateKind, close('setup'));
    // Both caches now hold some state of the gate; at most one may have it current.
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tryCommand(i % 2 ? first : second, gate, gateKind, open(`racer-${i}`), {
          retries: 5,
        }).catch((error: unknown) => error),
      ),
    );
    const winners = outcomes.filter(
      (outcome) => typeof outcome === 'object' && outcome !== null && 'appended' in outcome,
    );
    expect(winners).toHaveLength(1);
    const events = await first.readStream(gate);
    expect(events.filter((event) => event.type === 'GateOpened')).toHaveLength(2);
  });

  it('serves a hot stream from the cache: the next command appends without reading', async () => {
    const gate = 'gate-hot';
    await tryCommand(first, gate, gateKind, open('first'));
    expect(streamStateCache(first).get(gate, gateKind)).toEqual({
      state: { open: true, changes: 1 },
      revision: 0n,
    });
    const reads = jest.spyOn(first, 'readStream');
    await tryCommand(first, gate, gateKind, close('first'));
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });
});

describe('a stream that is likely new', () => {
  it('appends to a new stream without reading it first', async () => {
    const reads = jest.spyOn(second, 'readStream');
    const outcome = await tryCommand(second, 'gate-new', gateKind, open('second'), {
      likelyNew: true,
    });
    expect('appended' in outcome).toBe(true);
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  it('reads and decides on the real stream when it already exists', async () => {
    const gate = 'gate-existing';
    await tryCommand(first, gate, gateKind, open('first'));
    // The second process has never seen this gate: the guess "empty" refuses nothing here
    // (opening an empty gate is allowed), the append fails, and the fresh read refuses.
    const outcome = await tryCommand(second, gate, gateKind, open('second'), {
      likelyNew: true,
      retries: 0,
    });
    expect('refusal' in outcome && outcome.refusal.message).toBe('already open');
    expect(await first.readStream(gate)).toHaveLength(1);
  });
});

// Found by a black-box tester: top-ups sent at once with one Idempotency-Key and different
// amounts were all answered 200, each with its own amount and balance, while the wallet
// kept one charge. A decision on a state without the first charge appended an event with
// the same id: the store took it for a repeat and the command reported its own decision.
describe('an idempotent append whose id another decision already wrote', () => {
  const topUp = (store: PostgresEventStore, userId: string, amount: number, key?: string) =>
    charge(
      { store, clock: () => new Date(), maxChargeAmount: 1_000_000 },
      { userId, amount, idempotencyKey: key },
    );

  it('decides again on what the stream holds: a different amount is refused', async () => {
    const userId = 'tester-idempotent-different';
    await topUp(second, userId, 5); // the second process now caches the wallet
    await topUp(first, userId, 101, 'k1');
    // The second process decides on its cached wallet, which lacks the k1 charge.
    await expect(topUp(second, userId, 100, 'k1')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    const events = await first.readStream(walletStream(userId));
    expect(events.map((event) => (event.data as { amount: number }).amount)).toEqual([5, 101]);
    // Its cache holds the stream as written: the next top-up builds on 106.
    expect((await topUp(second, userId, 1)).balance).toBe(107);
  });

  it("answers a repeat with the original charge's answer", async () => {
    const userId = 'tester-idempotent-same';
    await topUp(second, userId, 5);
    await topUp(first, userId, 50);
    const original = await topUp(first, userId, 101, 'k1');
    // Decided on the cached wallet (balance 5), the repeat would say 106.
    const repeat = await topUp(second, userId, 101, 'k1');
    expect(original.balance).toBe(156);
    expect(repeat).toMatchObject({ chargeId: original.chargeId, balance: 156 });
    expect(await first.readStream(walletStream(userId))).toHaveLength(3);
  });
});
