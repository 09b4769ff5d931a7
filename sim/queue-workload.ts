import { admitWaitingTokens } from '../src/commands/admission.js';
import { issueToken } from '../src/commands/issue-token.js';
import { seededRandomInt } from '../src/commands/queue-draw.js';
import { changeQueueSettings, firstQueueSettings } from '../src/commands/queue-settings.js';
import { revokeToken } from '../src/commands/revoke-token.js';
import type { QueueSettings } from '../src/events/queue.js';
import type { SimulatedCluster } from './cluster.js';

/** The first cap of the simulated queue (MAX_ACTIVE_TOKENS of its processes). */
export const simulatedMaxActive = 3;
export const simulatedTokenTtlSeconds = 120;

/**
 * One seeded queue decision, beside the payment workload: users join (or rejoin), an
 * admission round runs (it also opens a due pre-queue and draws it), an operator pauses,
 * resumes, switches to passthrough, changes the cap or the rate, schedules an opening
 * (a pre-queue), or revokes a token. Failures (faults, crashes) are part of the run.
 */
export async function queueOperation(
  cluster: SimulatedCluster,
  users: readonly string[],
  random: () => number,
): Promise<void> {
  await cluster.ready;
  const store = cluster.store.withProfile({ next: random });
  const { system, clock } = { system: cluster.system, clock: cluster.system.clock };
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const roll = random();
  const first = firstQueueSettings({ MAX_ACTIVE_TOKENS: simulatedMaxActive });
  const settings = (changes: Partial<QueueSettings>) =>
    changeQueueSettings({ store, clock, pool: system.pool, firstQueueSettings: first }, changes);
  if (roll < 0.45) {
    await issueToken({ store, clock }, pick(users));
  } else if (roll < 0.75) {
    await admitWaitingTokens({
      store,
      db: system.db,
      pool: system.pool,
      clock,
      runner: system.runner,
      maxActiveTokens: simulatedMaxActive,
      tokenTtlSeconds: simulatedTokenTtlSeconds,
      firstQueueSettings: first,
      random: seededRandomInt(Math.floor(random() * 2 ** 31)),
    });
  } else if (roll < 0.9) {
    const change = pick([
      { mode: 'paused' },
      { mode: 'open' },
      { mode: 'open' },
      { mode: 'passthrough' },
      { maxActive: 1 + Math.floor(random() * 4) },
      { admissionsPerMinute: random() < 0.3 ? null : 1 + Math.floor(random() * 4) },
      { opensAt: new Date(clock().getTime() + 20_000 + random() * 60_000).toISOString() },
      { opensAt: null },
    ] satisfies Partial<QueueSettings>[]);
    await settings(change);
  } else {
    await revokeToken({ store, clock }, pick(users), 'simulation');
  }
}

/** Without faults: admission rounds until the pre-queues are drawn and nothing is admitted. */
export async function settleQueue(cluster: SimulatedCluster): Promise<void> {
  const { system } = cluster;
  for (let round = 0; round < 5; round++) {
    const result = await admitWaitingTokens({
      ...system,
      maxActiveTokens: simulatedMaxActive,
      tokenTtlSeconds: simulatedTokenTtlSeconds,
      firstQueueSettings: firstQueueSettings({ MAX_ACTIVE_TOKENS: simulatedMaxActive }),
    });
    if (result && result.admitted === 0 && result.expired === 0) return;
  }
}
