import { paymentsProjection } from '../../src/projections/payments.js';
import { at, projectionSpec } from '../support/projection-spec.js';
import { minute } from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(paymentsProjection);
});
afterAll(() => spec.drop());

const started = (paymentId: string) =>
  at(0, {
    type: 'PaymentStarted',
    data: {
      paymentId,
      reservationId: `reservation-${paymentId}`,
      seatId: `seat-${paymentId}`,
      userId: 'ann',
      tokenId: 'token-1',
      amount: 1000,
      startedAt: minute(1),
    },
  });
const history = [
  [started('p1'), started('p2'), started('p3')],
  [
    at(1, {
      type: 'PaymentCompleted',
      data: { paymentId: 'p1', balance: 0, completedAt: minute(2) },
    }),
    at(1, {
      type: 'PaymentFailed',
      data: { paymentId: 'p2', code: 'INSUFFICIENT_BALANCE', refunded: false, failedAt: minute(3) },
    }),
  ],
];

const payment = (paymentId: string, rest: object) => ({
  payment_id: paymentId,
  reservation_id: `reservation-${paymentId}`,
  seat_id: `seat-${paymentId}`,
  user_id: 'ann',
  amount: 1000,
  started_at: new Date(minute(1)),
  ...rest,
});
const expected = [
  payment('p1', { status: 'paid', code: null, refunded: false, updated_at: new Date(minute(2)) }),
  payment('p2', {
    status: 'failed',
    code: 'INSUFFICIENT_BALANCE',
    refunded: false,
    updated_at: new Date(minute(3)),
  }),
  payment('p3', {
    status: 'pending',
    code: null,
    refunded: false,
    updated_at: new Date(minute(1)),
  }),
];

describe('payments projection', () => {
  it('records each payment’s outcome, leaving unfinished ones pending', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('payments')).toEqual(expected);
  });

  it('changes nothing when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('payments')).toEqual(expected);
  });

  it('does not reopen a finished payment when its start is applied again', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    await model.apply(history[0]!);
    expect(await model.rows('payments')).toEqual(expected);
  });
});
