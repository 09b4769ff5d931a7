import {
  admissionIsQuiet,
  admitWaitingTokens,
  type AdmissionDeps,
  type Quiet,
} from '../src/commands/admission.js';
import { tokensProjectionTypes } from '../src/commands/queue-opening.js';
import { comparePositions, type Position } from '../src/events/store/port.js';
import { issueToken } from '../src/commands/issue-token.js';
import { seededRandomInt } from '../src/commands/queue-draw.js';
import { changeQueueSettings, firstQueueSettings } from '../src/commands/queue-settings.js';
import { revokeToken } from '../src/commands/revoke-token.js';
import type { QueueSettings } from '../src/events/queue.js';
import type { SimulatedCluster } from './cluster.js';

/** The first cap of the simulated queue (MAX_ACTIVE_TOKENS of its processes). */
export const simulatedMaxActive = 3;
export const simulatedTokenTtlSeconds = 120;

/** The quiet the last admission round of each cluster reported (the loop's skip). */
const quietOf = new WeakMap<SimulatedCluster, Quiet>();
const skipMistakes = new WeakMap<SimulatedCluster, string[]>();

/**
 * (h) The admission loop skips a round while admissionIsQuiet says nothing can have
 * changed. Here every round is run anyway: a round that was to be skipped and still
 * admitted or expired a pass, deciding on the very log head and clock the check saw
 * (nothing happened in between), is a wrongly skipped round. "Nothing in between" also
 * means no event but the round's own after the checked head: the round reads the tokens
 * read model, which may already hold a join the other concurrent operation made after
 * the check (the loop's next check sees that join's head; seed 64540 flagged one).
 */
export function quietSkipViolations(cluster: SimulatedCluster): string[] {
  return skipMistakes.get(cluster) ?? [];
}

async function admissionRound(cluster: SimulatedCluster, deps: AdmissionDeps): Promise<void> {
  const quiet = quietOf.get(cluster);
  const checked = await deps.store
    .headPosition({ eventTypes: tokensProjectionTypes })
    .then((head) => ({ head, at: deps.clock().getTime() }))
    .catch(() => undefined);
  const skip =
    quiet !== undefined &&
    checked !== undefined &&
    (await admissionIsQuiet(deps, quiet).catch(() => false));
  const round = await admitWaitingTokens(deps);
  if (!round) return;
  if (round.quiet) quietOf.set(cluster, round.quiet);
  else quietOf.delete(cluster);
  const decided = round.decidedOn;
  if (
    skip &&
    decided &&
    (round.admitted > 0 || round.expired > 0) &&
    comparePositions(decided.head, checked.head) === 0 &&
    decided.at.getTime() === checked.at &&
    (await onlyTheRoundsOwnAfter(deps, checked.head, round.admitted + round.expired))
  ) {
    const mistakes = skipMistakes.get(cluster) ?? [];
    mistakes.push(
      `(h) an admission round the quiet check skipped would have admitted ${round.admitted} and expired ${round.expired}`,
    );
    skipMistakes.set(cluster, mistakes);
  }
}

/** True when the tokens events after `head` are exactly the `own` events a round wrote. */
async function onlyTheRoundsOwnAfter(
  deps: AdmissionDeps,
  head: Position,
  own: number,
): Promise<boolean> {
  const after = await deps.store
    .readAll({
      fromPosition: head,
      filter: { eventTypes: tokensProjectionTypes },
      maxCount: own + 2,
    })
    .catch(() => undefined);
  // A failed read (an injected fault) proves nothing either way: no verdict.
  return after?.filter((event) => comparePositions(event.position, head) > 0).length === own;
}

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
    const deps = {
      store,
      db: system.db,
      pool: system.pool,
      clock,
      runner: system.runner,
      maxActiveTokens: simulatedMaxActive,
      tokenTtlSeconds: simulatedTokenTtlSeconds,
      firstQueueSettings: first,
      random: seededRandomInt(Math.floor(random() * 2 ** 31)),
    };
    await admissionRound(cluster, deps);
    // Often a second round at once, as the loop's next beat: the one a quiet most often skips.
    if (random() < 0.5) await admissionRound(cluster, deps);
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
