import { charge } from '../src/commands/charge.js';
import { expireHolds } from '../src/commands/hold-expiry.js';
import { holdSeat } from '../src/commands/hold-seat.js';
import { pay } from '../src/commands/pay.js';
import { PaymentRecovery } from '../src/commands/payment-recovery.js';
import { scheduleConcert } from '../src/commands/schedule-concert.js';
import { loadConfig } from '../src/config.js';
import { projections } from '../src/projections/index.js';
import { verifyReadModels } from '../src/projections/verify.js';
import { startSystem, type System } from '../src/system.js';
import { FaultyEventStore } from './faulty-store.js';
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

/**
 * One seeded run: a few users contend for few seats through charges (with and without
 * Idempotency-Key, retried), holds, payments (retried), recovery passes, hold expiry
 * after clock jumps, and crashes of the "process" (the store wrapper fails every later
 * call, the in-memory state is dropped and a fresh process starts on the same database).
 * Then faults stop, recovery and projections settle, and the invariants are checked.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  let now = Date.parse('2030-01-02T00:00:00.000Z');
  const clock = () => new Date(now);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: 'silent',
    DB_POOL_SIZE: '6',
  });
  const start = () => startSystem({ config, clock, processes: false });
  const faultsOf = () =>
    new FaultyEventStore(system.store, {
      next: random,
      transient: 0.1,
      ambiguous: 0.08,
      latency: 0.1,
      readTransient: 0.02,
    });
  let system: System = await start();
  let store = faultsOf();
  let crashes = 0;
  let faults = 0;
  const acknowledged: Acknowledged = { charges: [], payments: [] };

  const { concert } = await scheduleConcert(system, {
    title: `simulation ${options.seed}`,
    dates: [
      {
        concertTime: new Date(now + 30 * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: [1, 2, 3].map((seatNumber) => ({ seatNumber, price: 30_000 })),
      },
    ],
  });
  const date = concert.dates[0]!;
  const users = ['u1', 'u2', 'u3', 'u4'].map((user) => `${user}-${options.seed}`);
  const held: { userId: string; reservationId: string; seatId: string }[] = [];
  // Enough money for a payment or two each, so the workload reaches the debit often.
  for (const userId of users) {
    const opening = await charge(
      { ...system, maxChargeAmount: 1_000_000 },
      { userId, amount: 60_000 },
    );
    acknowledged.charges.push({ userId, chargeId: opening.chargeId, amount: 60_000 });
  }

  const crash = async () => {
    // Abandon in-flight commands at their next await, drop all in-memory state.
    store.crash();
    faults += store.injected.length;
    crashes++;
    await system.close().catch(() => undefined);
    system = await start();
    store = faultsOf();
  };
  const recoveryPass = () =>
    new PaymentRecovery({
      store,
      db: system.db,
      clock,
      recoverAfterMs: 0,
      ...(options.reintroduceDefect1 ? { reintroduceDefect1: true } : {}),
    }).run();

  const operation = async (): Promise<void> => {
    const userId = pick(users);
    const roll = random();
    if (roll < 0.25) {
      const key = random() < 0.6 ? `k${Math.floor(random() * 4)}` : undefined;
      const amount = key ? 20_000 : 10_000;
      for (let attempt = 0; attempt < 3; attempt++) {
        const done = await charge(
          { store, clock, maxChargeAmount: 1_000_000 },
          { userId, amount, ...(key ? { idempotencyKey: key } : {}) },
        ).catch(() => undefined);
        if (done) {
          acknowledged.charges.push({ userId, chargeId: done.chargeId, amount });
          return;
        }
        if (!key) return; // without a key a retry could charge twice: the caller gives up
      }
    } else if (roll < 0.5) {
      const seat = pick(date.seats);
      const done = await holdSeat(
        { store, clock, holdTtlSeconds: 300 },
        { userId, concertTimeId: date.concertTimeId, seatId: seat.seatId },
      ).catch(() => undefined);
      if (done)
        held.push({ userId, reservationId: done.reservation.reservationId, seatId: seat.seatId });
    } else if (roll < 0.75 && held.length > 0) {
      const hold = pick(held);
      const key = `pay-${hold.reservationId}`;
      const crashAt =
        random() < 0.15 ? pick(['seatLocked', 'debited', 'seatPaid'] as const) : undefined;
      for (let attempt = 0; attempt < 2; attempt++) {
        const done = await pay(
          {
            store,
            clock,
            afterStep: (step) => {
              if (step === crashAt) throw new Crash(step);
            },
          },
          { ...hold, tokenId: `token-${hold.userId}`, idempotencyKey: key },
        ).catch(async (error: unknown) => {
          if (error instanceof Crash) await crash();
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
    } else if (roll < 0.9) {
      await system.runner.waitFor(
        { position: await system.store.headPosition(), eventTypes: ['PaymentStarted'] },
        5000,
      );
      // Recovery's own appends are where defect 1 lived: aim a fault at them half the time.
      if (random() < 0.5)
        store.inject({ streamPrefix: 'seat-', fault: random() < 0.5 ? 'transient' : 'ambiguous' });
      await recoveryPass().catch(() => undefined);
    } else if (roll < 0.96) {
      now += 301_000; // past the hold TTL
      await system.runner.waitFor(
        { position: await system.store.headPosition(), eventTypes: ['SeatHeld'] },
        5000,
      );
      await expireHolds({ store, db: system.db, clock }).catch(() => undefined);
    } else {
      await crash();
    }
  };

  const count = options.operations ?? 30;
  for (let done = 0; done < count; done += 2) await Promise.all([operation(), operation()]);
  faults += store.injected.length;

  // Settle without faults: recovery until nothing is pending, projections caught up.
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
      clock,
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
  await system.close();
  return { seed: options.seed, violations, faults, crashes };
}
