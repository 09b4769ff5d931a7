import type { System } from '../../src/system.js';
import { projectionStatuses } from '../../src/queries/projections.js';
import { saveCheckpoints } from '../../src/projections/checkpoints.js';
import { scheduleTestConcert } from '../support/booking.js';
import {
  settleProjections,
  startStandby,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';

let leader: TestSystem;
let standby: System;
beforeAll(async () => {
  leader = await startTestSystem();
  standby = await startStandby(leader);
});
afterAll(async () => {
  await standby.close();
  await leader.drop();
});

describe('a standby process', () => {
  it('reports the persisted checkpoints, not its start-up ones, and counts lag cheaply', async () => {
    await scheduleTestConcert(leader, 5);
    await settleProjections(leader);
    const persisted = await leader.db
      .selectFrom('projection_checkpoints')
      .select(['name', 'commit_position', 'prepare_position'])
      .execute();
    // Heartbeats may move the persisted checkpoints on; compare with what the standby saw.
    const statuses = await projectionStatuses(standby);
    for (const status of statuses) {
      const row = persisted.find((candidate) => candidate.name === status.name)!;
      expect(status.status).toBe('standby');
      expect(BigInt(status.checkpoint.split('/')[0]!)).toBeGreaterThanOrEqual(
        BigInt(row.commit_position),
      );
      expect(status.lag).toBe(0);
    }
  });

  it('never moves a checkpoint backwards', async () => {
    const before = await leader.db
      .selectFrom('projection_checkpoints')
      .selectAll()
      .where('name', '=', 'available-seats')
      .executeTakeFirstOrThrow();
    // It applied the concert's seats, so its checkpoint is past the start of the log.
    expect(BigInt(before.commit_position)).toBeGreaterThan(0n);
    // What an old leader that lost its lock would write: an older position.
    expect(
      await saveCheckpoints(leader.db, [{ name: 'available-seats', eventsApplied: 1 }], {
        commit: 0n,
        prepare: 0n,
      }),
    ).toEqual(['available-seats']);
    const after = await leader.db
      .selectFrom('projection_checkpoints')
      .selectAll()
      .where('name', '=', 'available-seats')
      .executeTakeFirstOrThrow();
    expect([after.commit_position, after.events_applied]).toEqual([
      before.commit_position,
      before.events_applied,
    ]);
  });
});
