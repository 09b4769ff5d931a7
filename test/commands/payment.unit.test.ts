import { decidePayment, type PaymentOutcome } from '../../src/deciders/payment.js';
import { paymentKind, type PaymentEvent, type PaymentState } from '../../src/events/payment.js';
import { deciderSpec } from '../support/decider.js';

const payment = deciderSpec(paymentKind);
const t0 = '2030-01-02T00:01:00.000Z';
const t1 = '2030-01-02T00:01:01.000Z';
const start = {
  paymentId: 'p1',
  reservationId: 'r1',
  userId: 'alice',
  seatId: 's1',
  tokenId: 'tk1',
  amount: 50_000,
  now: t0,
};
const started: PaymentEvent = {
  type: 'PaymentStarted',
  data: {
    paymentId: 'p1',
    reservationId: 'r1',
    seatId: 's1',
    userId: 'alice',
    tokenId: 'tk1',
    amount: 50_000,
    startedAt: t0,
  },
};
const finish = (outcome: PaymentOutcome) => (state: PaymentState) =>
  decidePayment({ type: 'FinishPayment', data: { paymentId: 'p1', now: t1, outcome } }, state);
const completed: PaymentEvent = {
  type: 'PaymentCompleted',
  data: { paymentId: 'p1', balance: 30_000, completedAt: t1 },
};
const failed: PaymentEvent = {
  type: 'PaymentFailed',
  data: { paymentId: 'p1', code: 'PAYMENT_ABORTED', refunded: true, failedAt: t1 },
};

describe('starting a payment', () => {
  it('starts a new payment with its seat, token and amount', () => {
    payment
      .given([])
      .when((state) => decidePayment({ type: 'StartPayment', data: start }, state))
      .then([started]);
  });

  it('decides nothing for a payment id already started or finished (a retried request)', () => {
    for (const history of [[started], [started, completed], [started, failed]]) {
      payment
        .given(history)
        .when((state) => decidePayment({ type: 'StartPayment', data: start }, state))
        .then([]);
    }
  });
});

describe('recording a payment outcome', () => {
  it('records a completion with the balance after the debit', () => {
    payment
      .given([started])
      .when(finish({ status: 'paid', balance: 30_000 }))
      .then([completed]);
  });

  it('records a failure with its code and whether the money went back', () => {
    payment
      .given([started])
      .when(finish({ status: 'failed', code: 'PAYMENT_ABORTED', refunded: true }))
      .then([failed]);
    payment
      .given([started])
      .when(finish({ status: 'failed', code: 'INSUFFICIENT_BALANCE', refunded: false }))
      .then([
        {
          type: 'PaymentFailed',
          data: { paymentId: 'p1', code: 'INSUFFICIENT_BALANCE', refunded: false, failedAt: t1 },
        },
      ]);
  });

  it('keeps the first outcome: a later one decides nothing', () => {
    payment
      .given([started, completed])
      .when(finish({ status: 'failed', code: 'PAYMENT_ABORTED', refunded: true }))
      .then([]);
    payment
      .given([started, failed])
      .when(finish({ status: 'paid', balance: 30_000 }))
      .then([]);
  });

  it('records nothing for a payment that never started', () => {
    payment
      .given([])
      .when(finish({ status: 'paid', balance: 30_000 }))
      .then([]);
  });
});
