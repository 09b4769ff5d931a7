import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { charge } from '../../src/commands/charge.js';
import { holdSeat } from '../../src/commands/hold-seat.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { admitWaitingTokens } from '../../src/commands/admission.js';
import { expireHolds } from '../../src/commands/hold-expiry.js';
import { pay } from '../../src/commands/pay.js';
import { projections } from '../../src/projections/index.js';
import { rebuildProjection, rebuildSchema } from '../../src/projections/rebuild.js';
import { replay } from '../../src/projections/replay.js';
import { applyRecorded } from '../../src/projections/projection.js';
import { startSystem, type System } from '../../src/system.js';
import { scheduleTestConcert } from '../support/booking.js';
import { readModelDifferences, startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem({ MAX_ACTIVE_TOKENS: '1000' });
});
afterAll(() => system.drop());

const allTypes = [...new Set(projections.flatMap((projection) => projection.handles))];

/** Some of everything: concerts, tokens, admissions, holds, expiries, charges, payments. */
async function exercise(on: System, round: string) {
  const { date, seats } = await scheduleTestConcert(on, 6, [10_000, 20_000]);
  const users = [0, 1, 2].map((i) => `${round}-u${i}`);
  const tokens = [];
  for (const userId of users) tokens.push((await issueToken(on, userId)).token);
  await admitWaitingTokens({ ...on, maxActiveTokens: 1000, tokenTtlSeconds: 600 });
  for (const [i, userId] of users.entries()) {
    await charge({ ...on, maxChargeAmount: 1_000_000 }, { userId, amount: 15_000 });
    const { reservation } = await holdSeat(
      { ...on, holdTtlSeconds: 300 },
      { userId, concertTimeId: date.concertTimeId, seatId: seats[i]!.seatId },
    );
    if (i < 2)
      await pay(on, {
        userId,
        tokenId: tokens[i]!.tokenId,
        reservationId: reservation.reservationId,
        seatId: seats[i]!.seatId,
      }).catch(() => undefined);
  }
  await holdSeat(
    { ...on, holdTtlSeconds: 300 },
    { userId: users[0]!, concertTimeId: date.concertTimeId, seatId: seats[5]!.seatId },
  );
  await expireHolds({ ...on, clock: () => new Date(on.clock().getTime() + 301_000) });
}

async function caughtUp(on: System) {
  expect(
    await on.runner.waitFor(
      { position: await on.store.headPosition(), eventTypes: allTypes },
      10_000,
    ),
  ).toBe(true);
}

async function snapshot(on: System) {
  const tables: Record<string, unknown[]> = {};
  for (const table of projections.flatMap((projection) => projection.tables)) {
    tables[table] = (await sql.raw(`SELECT * FROM ${table} ORDER BY 1`).execute(on.db)).rows;
  }
  return tables;
}

describe('projections', () => {
  it('match a fresh replay of the log row for row', async () => {
    await exercise(system, `replay-${randomUUID().slice(0, 4)}`);
    const differences = await readModelDifferences(system);
    expect(differences).toEqual([]);
  });

  it('change nothing when the same events are applied twice', async () => {
    await exercise(system, `twice-${randomUUID().slice(0, 4)}`);
    await caughtUp(system);
    const before = await snapshot(system);
    const events = await system.store.readAll({
      maxCount: 100_000,
      filter: { eventTypes: allTypes },
    });
    await system.db.transaction().execute(async (trx) => {
      for (const projection of projections) await applyRecorded(projection, events, trx);
    });
    expect(await snapshot(system)).toEqual(before);
  });

  it('a tampered read-model row shows up as a difference', async () => {
    await caughtUp(system);
    await sql`UPDATE wallets SET balance = balance + 1 WHERE user_id = (SELECT min(user_id) FROM wallets)`.execute(
      system.db,
    );
    try {
      const differences = await readModelDifferences(system);
      expect(differences.map((difference) => difference.table)).toEqual(['wallets']);
    } finally {
      await sql`UPDATE wallets SET balance = balance - 1 WHERE user_id = (SELECT min(user_id) FROM wallets)`.execute(
        system.db,
      );
    }
  });

  it('resume after a restart mid-stream without losing or repeating an event', async () => {
    // A second "process" writes while the first one stops and a third one starts.
    const writer = await startSystem({
      config: system.config,
      clock: system.clock,
      projections: false,
      processes: false,
    });
    const writing = (async () => {
      for (let round = 0; round < 4; round++)
        await exercise(writer, `restart-${round}-${randomUUID().slice(0, 4)}`);
    })();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await system.runner.stop();
    const restarted = await startSystem({
      config: system.config,
      clock: system.clock,
      processes: false,
    });
    await writing;
    await caughtUp(restarted);
    const differences = await readModelDifferences(restarted);
    expect(differences).toEqual([]);
    await writer.close();
    await restarted.close();
  });
});

describe('rebuild', () => {
  it('resumes an interrupted rebuild where it stopped, and swaps in a model equal to a fresh replay', async () => {
    // The restart test above stopped this file's first runner: run a fresh process here.
    const live = await startSystem({
      config: system.config,
      clock: system.clock,
      processes: false,
    });
    await exercise(live, `resume-${randomUUID().slice(0, 4)}`);
    const wallets = projections.find((projection) => projection.name === 'wallets')!;
    const total = (
      await live.store.readAll({ filter: { eventTypes: wallets.handles }, maxCount: 100_000 })
    ).length;
    expect(total).toBeGreaterThan(3);
    // Interrupted after its first batch of three events.
    await expect(
      replay(live, [{ projection: wallets, schema: rebuildSchema(wallets) }], {
        batchSize: 3,
        onBatch: () => {
          throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const progress: number[] = [];
    const done = await rebuildProjection(live, wallets, (step) => progress.push(step.applied));
    // It went on from event 4, not from the start: nothing applied twice.
    expect(done.applied).toBe(total);
    expect(progress[0]).toBeGreaterThan(3);
    const differences = await readModelDifferences(live);
    expect(differences).toEqual([]);
    await live.close();
  });
});
