import { randomUUID } from 'node:crypto';
import { charge } from '../../src/commands/charge.js';
import { holdSeat } from '../../src/commands/hold-seat.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { pay, readPayment, type PaymentDeps } from '../../src/commands/pay.js';
import { PaymentRecovery } from '../../src/commands/payment-recovery.js';
import { foldEvents } from '../../src/events/event.js';
import { seatKind, seatStream } from '../../src/events/seat.js';
import { tokenKind, tokenStream } from '../../src/events/token.js';
import { walletKind, walletStream } from '../../src/events/wallet.js';
import { paymentKind, paymentStream } from '../../src/events/payment.js';
import { FaultyEventStore } from '../../sim/faulty-store.js';
import { expectInvariants, scheduleTestConcert } from '../support/booking.js';
import { settleProjections, startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

class Crash extends Error {}

const steps = ['started', 'seatLocked', 'debited', 'seatPaid', 'tokenExpired'] as const;

describe('payment crash recovery', () => {
  it.each(steps)('settles a payment that crashed right after %s', async (crashAfter) => {
    const userId = `crash-${randomUUID().slice(0, 8)}`;
    const { date, seats } = await scheduleTestConcert(system, 1);
    const seatId = seats[0]!.seatId;
    const { token } = await issueToken(system, userId);
    await charge({ ...system, maxChargeAmount: 1_000_000 }, { userId, amount: 80_000 });
    const { reservation } = await holdSeat(
      { ...system, holdTtlSeconds: 300 },
      { userId, concertTimeId: date.concertTimeId, seatId },
    );

    const crashing: PaymentDeps = {
      store: system.store,
      clock: system.clock,
      afterStep: (step) => {
        if (step === crashAfter) throw new Crash(step);
      },
    };
    await expect(
      pay(crashing, {
        userId,
        tokenId: token.tokenId,
        reservationId: reservation.reservationId,
        seatId,
        idempotencyKey: 'k',
      }),
    ).rejects.toBeInstanceOf(Crash);

    const recovery = new PaymentRecovery({ ...system, recoverAfterMs: 0 });
    await settleProjections(system);
    const { recovered } = await recovery.run();
    expect(recovered).toHaveLength(1);
    // A second run finds nothing left to do.
    await settleProjections(system);
    expect((await recovery.run()).recovered).toHaveLength(0);

    const seat = foldEvents(seatKind, await system.store.readStream(seatStream(seatId)));
    const wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    const tokenState = foldEvents(tokenKind, await system.store.readStream(tokenStream(userId)));
    const debitedBeforeCrash =
      crashAfter === 'debited' || crashAfter === 'seatPaid' || crashAfter === 'tokenExpired';
    if (debitedBeforeCrash) {
      // Rolled forward: the seat is paid, the money taken once, the token expired.
      expect(recovered[0]).toEqual({ status: 'paid', balance: 30_000 });
      expect(seat.status).toBe('paid');
      expect(wallet.balance).toBe(30_000);
      expect(tokenState.current?.status).toBe('expired');
    } else {
      // Rolled back: nothing charged, the hold is the user's again.
      expect(recovered[0]).toMatchObject({ status: 'failed', code: 'PAYMENT_ABORTED' });
      expect(seat.status).toBe('holding');
      expect(wallet.balance).toBe(80_000);
      expect(tokenState.current?.status).not.toBe('expired');
    }
    const payment = await readPayment(
      system.store,
      Object.keys(wallet.debits)[0] ?? (await findPaymentId(userId)),
    );
    expect(payment.status).toBe(debitedBeforeCrash ? 'paid' : 'failed');
    await expectInvariants(system.store, [userId], [seatId]);
  });

  it('refunds a debit whose seat was taken away from the payment', async () => {
    const userId = `refund-${randomUUID().slice(0, 8)}`;
    const { date, seats } = await scheduleTestConcert(system, 1);
    const seatId = seats[0]!.seatId;
    const { token } = await issueToken(system, userId);
    await charge({ ...system, maxChargeAmount: 1_000_000 }, { userId, amount: 50_000 });
    const { reservation } = await holdSeat(
      { ...system, holdTtlSeconds: 300 },
      { userId, concertTimeId: date.concertTimeId, seatId },
    );
    // Recovery decides while the payment is between locking the seat and debiting:
    // it cancels the seat lock, so the payment must refund what it then debits.
    const recovery = new PaymentRecovery({ ...system, recoverAfterMs: 0 });
    const racing: PaymentDeps = {
      store: system.store,
      clock: system.clock,
      afterStep: async (step) => {
        if (step !== 'seatLocked') return;
        await settleProjections(system);
        await recovery.run();
      },
    };
    await expect(
      pay(racing, {
        userId,
        tokenId: token.tokenId,
        reservationId: reservation.reservationId,
        seatId,
      }),
    ).rejects.toMatchObject({ code: 'PAYMENT_ABORTED' });
    await expectInvariants(system.store, [userId], [seatId]);
    const wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    expect(wallet.balance).toBe(50_000);
    expect(foldEvents(seatKind, await system.store.readStream(seatStream(seatId))).status).toBe(
      'holding',
    );
  });
});

describe('payment recovery under infrastructure errors', () => {
  it('leaves a payment pending when the seat append fails transiently, then completes it', async () => {
    const userId = `transient-${randomUUID().slice(0, 8)}`;
    const { date, seats } = await scheduleTestConcert(system, 1);
    const seatId = seats[0]!.seatId;
    const { token } = await issueToken(system, userId);
    await charge({ ...system, maxChargeAmount: 1_000_000 }, { userId, amount: 80_000 });
    const { reservation } = await holdSeat(
      { ...system, holdTtlSeconds: 300 },
      { userId, concertTimeId: date.concertTimeId, seatId },
    );
    await expect(
      pay(
        {
          store: system.store,
          clock: system.clock,
          afterStep: (step) => {
            if (step === 'debited') throw new Crash(step);
          },
        },
        { userId, tokenId: token.tokenId, reservationId: reservation.reservationId, seatId },
      ),
    ).rejects.toBeInstanceOf(Crash);
    const paymentId = await findPaymentId(userId);

    // Recovery's seat append sees a dropped connection once.
    const faulty = new FaultyEventStore(system.store);
    faulty.inject({ streamPrefix: 'seat-', fault: 'transient' });
    const recovery = new PaymentRecovery({ ...system, store: faulty, recoverAfterMs: 0 });
    await settleProjections(system);
    const pass = await recovery.run();
    expect(pass.recovered).toEqual([]);
    expect(pass.deferred.map((deferred) => deferred.paymentId)).toEqual([paymentId]);
    expect(faulty.injected).toEqual([
      { call: 'append', stream: seatStream(seatId), fault: 'transient' },
    ]);

    // Nothing was decided: the payment is still pending, no refund claimed or made.
    const afterFault = await readPayment(system.store, paymentId);
    expect(afterFault.status).toBe('pending');
    let wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    expect(wallet.balance).toBe(30_000);
    expect(wallet.refunds[paymentId]).toBeUndefined();
    expect(foldEvents(seatKind, await system.store.readStream(seatStream(seatId))).status).toBe(
      'paying',
    );

    // The next pass finishes it forwards: the seat is paid, the money taken once.
    await settleProjections(system);
    expect((await recovery.run()).recovered).toEqual([{ status: 'paid', balance: 30_000 }]);
    const finished = foldEvents(
      paymentKind,
      await system.store.readStream(paymentStream(paymentId)),
    );
    expect(finished.status).toBe('paid');
    wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    expect(wallet.balance).toBe(30_000);
    expect(foldEvents(seatKind, await system.store.readStream(seatStream(seatId))).status).toBe(
      'paid',
    );
    await expectInvariants(system.store, [userId], [seatId]);
  });
});

async function findPaymentId(userId: string): Promise<string> {
  const events = await system.store.readAll({
    filter: { eventTypes: ['PaymentStarted'] },
    maxCount: 10_000,
  });
  const started = events.find((event) => (event.data as { userId: string }).userId === userId);
  return (started!.data as { paymentId: string }).paymentId;
}
