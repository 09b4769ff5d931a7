import { charge } from '../src/commands/charge.js';
import { expireHolds } from '../src/commands/hold-expiry.js';
import { holdSeat } from '../src/commands/hold-seat.js';
import { pay } from '../src/commands/pay.js';
import { PaymentRecovery } from '../src/commands/payment-recovery.js';
import { scheduleConcert } from '../src/commands/schedule-concert.js';
import { projections } from '../src/projections/index.js';
import { rebuildProjection } from '../src/projections/rebuild.js';
import { verifyReadModels } from '../src/projections/verify.js';
import { SimulatedCluster } from './cluster.js';
import { queueOperation, quietSkipViolations, settleQueue } from './queue-workload.js';
import type { FaultyEventStore } from './faulty-store.js';
import { checkLogInvariants, type Acknowledged } from './invariants.js';

/** mulberry32: a small seeded PRNG, so a seed replays its workload and fault schedule. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationOptions {
  readonly seed: number;
  readonly databaseUrl: string;
  readonly operations?: number;
  /** TEST ONLY: recovery records a refund on any error (issue 9 defect 1). */
  readonly reintroduceDefect1?: boolean;
}

export interface SimulationResult {
  readonly seed: number;
  readonly violations: string[];
  readonly faults: number;
  readonly crashes: number;
}

class Crash extends Error {}

const paySteps = ['started', 'seatLocked', 'debited', 'seatPaid', 'tokenExpired'] as const;

/**
 * One seeded run: a few users contend for few seats through charges (with and without
 * Idempotency-Key, retried), holds, payments (retried), recovery passes, hold expiry
 * after clock jumps, a projection rebuild, and crashes of the "process" at seeded points
 * (a step of a payment, or any append: before the write or after it committed). Then
 * faults stop, recovery and projections settle, and the invariants are checked.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const random = prng(options.seed);
  let now = Date.parse('2030-01-02T00:00:00.000Z');
  const clock = () => new Date(now);
  // Seeded rates, so different seeds explore different mixes of faults.
  const crashRate = 0.01 + random() * 0.04;
  const recoveryAim = {
    streamPrefix: 'seat-',
    transient: 0.3 + random() * 0.3,
    ambiguous: 0.15 + random() * 0.25,
  };
  const transient = 0.03 + random() * 0.07;
  const ambiguous = 0.02 + random() * 0.06;
  const profile = () => ({
    next: random,
    transient,
    ambiguous,
    latency: 0.1,
    readTransient: 0.02,
    crash: crashRate,
  });
  const cluster = new SimulatedCluster({
    databaseUrl: options.databaseUrl,
    name: `sim${options.seed}`,
    clock,
    profile,
  });
  try {
    await cluster.start();
    const run = await workload(options, cluster, { clock, recoveryAim }, (ms) => {
      now += ms;
    });
    await recoverUnderFaults(options, cluster, recoveryAim);
    // Past any scheduled opening: the admitter opens and draws every pre-queue.
    now += 3_600_000;
    await settleQueue(cluster);
    const violations = await settleAndCheck(cluster, run.acknowledged);
    violations.push(...quietSkipViolations(cluster));
    const stray = await cluster.strayBackends();
    if (stray > 0) violations.push(`(harness) ${stray} backend(s) of crashed processes still open`);
    return {
      seed: options.seed,
      violations,
      faults: cluster.countFaults(),
      crashes: cluster.crashes,
    };
  } finally {
    await cluster.closeAll();
  }
}

interface Seeded {
  readonly clock: () => Date;
  readonly recoveryAim: { streamPrefix: string; transient: number; ambiguous: number };
}

async function workload(
  options: SimulationOptions,
  cluster: SimulatedCluster,
  { clock, recoveryAim }: Seeded,
  advance: (ms: number) => void,
): Promise<{ acknowledged: Acknowledged }> {
  const acknowledged: Acknowledged = { charges: [], payments: [] };
  const now = clock().getTime();
  const { concert } = await scheduleConcert(cluster.system, {
    title: `simulation ${options.seed}`,
    dates: [
      {
        concertTime: new Date(now + 30 * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: Array.from({ length: 12 }, (_, index) => index + 1).map((seatNumber) => ({
          seatNumber,
          price: 30_000,
        })),
      },
    ],
  });
  const date = concert.dates[0]!;
  const users = ['u1', 'u2', 'u3', 'u4'].map((user) => `${user}-${options.seed}`);
  const held: { userId: string; reservationId: string; seatId: string }[] = [];
  // Enough money for a payment or two each, so the workload reaches the debit often.
  for (const userId of users) {
    const opening = await charge(
      { ...cluster.system, maxChargeAmount: 1_000_000 },
      { userId, amount: 60_000 },
    );
    acknowledged.charges.push({ userId, chargeId: opening.chargeId, amount: 60_000 });
  }
  const holdOne = async (store: FaultyEventStore, userId: string, random: () => number) => {
    const seat = date.seats[Math.floor(random() * date.seats.length)]!;
    const done = await holdSeat(
      { store, clock, holdTtlSeconds: 300 },
      { userId, concertTimeId: date.concertTimeId, seatId: seat.seatId },
    ).catch(() => undefined);
    if (!done) return undefined;
    const hold = { userId, reservationId: done.reservation.reservationId, seatId: seat.seatId };
    held.push(hold);
    return hold;
  };
  const settled = async (eventTypes: string[]) => {
    const { system } = cluster;
    await system.runner.waitFor({ position: await system.store.headPosition(), eventTypes }, 5000);
  };

  // Each operation draws from its own seeded stream (workload choices and fault draws of
  // its calls), so a replay repeats it whatever the interleaving of the others.
  const operation = async (index: number): Promise<void> => {
    const random = prng(options.seed * 100_003 + index);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const storeNow = () => cluster.store.withProfile({ next: random });
    await cluster.ready;
    const store = storeNow();
    const { system } = cluster;
    const userId = pick(users);
    const roll = random();
    advance(Math.floor(random() * 10_000)); // time passes between requests
    if (roll < 0.12) {
      const key = random() < 0.6 ? `k${Math.floor(random() * 4)}` : undefined;
      const amount = key ? 20_000 : 10_000;
      for (let attempt = 0; attempt < 3; attempt++) {
        await cluster.ready;
        const done = await charge(
          { store: storeNow(), clock, maxChargeAmount: 1_000_000 },
          { userId, amount, ...(key ? { idempotencyKey: key } : {}) },
        ).catch(() => undefined);
        if (done) {
          acknowledged.charges.push({ userId, chargeId: done.chargeId, amount });
          return;
        }
        if (!key) return; // without a key a retry could charge twice: the caller gives up
      }
    } else if (roll < 0.17) {
      await holdOne(store, userId, random);
    } else if (roll < 0.62) {
      // Pay for a hold made since the last clock jump, or hold a seat first.
      // A hold is paid for once (its retries reuse the key); a later pay takes another.
      const hold =
        held.length > 0 && random() < 0.7
          ? held.splice(Math.floor(random() * held.length), 1)[0]
          : await holdOne(store, userId, random);
      if (!hold) return;
      const key = `pay-${hold.reservationId}`;
      const crashAt = random() < 0.5 ? pick(paySteps) : undefined;
      for (let attempt = 0; attempt < 2; attempt++) {
        await cluster.ready;
        const done = await pay(
          {
            store: storeNow(),
            clock,
            afterStep: (step) => {
              if (step === crashAt && attempt === 0) throw new Crash(step);
            },
          },
          { ...hold, tokenId: `token-${hold.userId}`, idempotencyKey: key },
        ).catch(async (error: unknown) => {
          if (error instanceof Crash) await cluster.crash();
          return undefined;
        });
        if (done) {
          acknowledged.payments.push({
            userId: hold.userId,
            paymentId: done.receipt.paymentId,
            seatId: hold.seatId,
          });
          return;
        }
      }
    } else if (roll < 0.82) {
      await settled(['PaymentStarted']).catch(() => undefined);
      // Recovery's own appends are where defect 1 lived: this pass sees the seed's
      // (higher) fault rates on seat appends.
      await new PaymentRecovery({
        store: store.withProfile({ aimed: recoveryAim }),
        db: system.db,
        clock,
        recoverAfterMs: 30_000, // as in production: a payment in flight is not taken over
        ...(options.reintroduceDefect1 ? { reintroduceDefect1: true } : {}),
      })
        .run()
        .catch(() => undefined);
    } else if (roll < 0.9) {
      advance(301_000); // past the hold TTL
      held.length = 0;
      await settled(['SeatHeld']).catch(() => undefined);
      await expireHolds({ store, db: system.db, clock }).catch(() => undefined);
    } else if (roll < 0.95) {
      const projection = pick(projections);
      await rebuildProjection(
        { store: system.store, db: system.db, databaseUrl: system.databaseUrl },
        projection,
      ).catch(() => undefined);
    } else {
      await cluster.crash();
    }
  };

  const count = options.operations ?? 30;
  const queueUsers = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'].map((user) => `${user}-${options.seed}`);
  for (let done = 0; done < count; done += 2)
    await Promise.all([
      operation(done),
      operation(done + 1),
      // Two queue decisions each round, each from its own seeded stream.
      queueOperation(cluster, queueUsers, prng(options.seed * 100_003 + 500_000 + done)).catch(
        () => undefined,
      ),
      queueOperation(cluster, queueUsers, prng(options.seed * 100_003 + 700_000 + done)).catch(
        () => undefined,
      ),
    ]);
  await cluster.ready;
  return { acknowledged };
}

/**
 * Recovery keeps running while faults go on: a few passes with the seed's fault rates
 * aimed at recovery's seat appends (what a payment stranded at the end of the workload
 * meets in production) before the faults stop.
 */
async function recoverUnderFaults(
  options: SimulationOptions,
  cluster: SimulatedCluster,
  aimed: Seeded['recoveryAim'],
): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    await cluster.ready;
    const { system } = cluster;
    await system.runner.waitFor(
      { position: await system.store.headPosition(), eventTypes: ['PaymentStarted'] },
      5000,
    );
    await new PaymentRecovery({
      store: cluster.store.withProfile({ aimed, crash: 0 }),
      db: system.db,
      clock: system.clock,
      recoverAfterMs: 0,
      ...(options.reintroduceDefect1 ? { reintroduceDefect1: true } : {}),
    })
      .run()
      .catch(() => undefined);
  }
}

/** Settle without faults (recovery until nothing is pending, projections caught up), then check. */
async function settleAndCheck(
  cluster: SimulatedCluster,
  acknowledged: Acknowledged,
): Promise<string[]> {
  const { system } = cluster;
  const clean = async () => {
    const head = await system.store.headPosition();
    await system.runner.waitFor(
      { position: head, eventTypes: system.runner.handledEventTypes() },
      30_000,
    );
  };
  for (let pass = 0; pass < 5; pass++) {
    await clean();
    const result = await new PaymentRecovery({
      store: system.store,
      db: system.db,
      clock: system.clock,
      recoverAfterMs: 0,
    }).run();
    if (result.recovered.length === 0 && result.deferred.length === 0) break;
  }
  await clean();
  const violations = await checkLogInvariants(system.store, acknowledged);
  // (f) read models equal a fresh replay.
  const differences = await verifyReadModels({
    ...system,
    projections,
    waitForProjections: (position) =>
      system.runner.waitFor({ position, eventTypes: system.runner.handledEventTypes() }, 30_000),
  });
  for (const difference of differences)
    violations.push(`(f) read model ${difference.table} differs from a replay`);
  return violations;
}
