import { decideWallet } from '../../src/deciders/wallet.js';
import { walletKind, type WalletEvent } from '../../src/events/wallet.js';
import { deciderSpec } from '../support/decider.js';

const wallet = deciderSpec(walletKind);
const now = '2030-01-02T00:00:00.000Z';
const charge = (amount: number, chargeId = 'c1') => ({
  userId: 'alice',
  chargeId,
  amount,
  maxAmount: 1_000_000,
  now,
});
const charged = (amount: number, balance: number, chargeId = 'c1'): WalletEvent => ({
  type: 'WalletCharged',
  data: { userId: 'alice', chargeId, amount, balance, chargedAt: now },
});

describe('charging a wallet', () => {
  it('adds a positive whole amount to the balance', () => {
    wallet
      .given([charged(100, 100, 'c0')])
      .when((state) => decideWallet({ type: 'Charge', data: charge(500) }, state))
      .then([charged(500, 600)]);
  });

  it.each([0, -1, 1.5, 1_000_001, Number.NaN])('refuses the amount %p', (amount) => {
    wallet
      .given([])
      .when((state) => decideWallet({ type: 'Charge', data: charge(amount) }, state))
      .thenFails('VALIDATION_FAILED');
  });

  it('applies a retried charge once', () => {
    wallet
      .given([charged(500, 500)])
      .when((state) => decideWallet({ type: 'Charge', data: charge(500) }, state))
      .then([]);
  });

  it('refuses a reused idempotency key with another amount', () => {
    wallet
      .given([charged(500, 500)])
      .when((state) => decideWallet({ type: 'Charge', data: charge(700) }, state))
      .thenFails('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('debiting and refunding for a payment', () => {
  const step = { paymentId: 'p1', reservationId: 'r1', userId: 'alice', now, amount: 300 };
  const debited: WalletEvent = {
    type: 'WalletDebited',
    data: { userId: 'alice', paymentId: 'p1', amount: 300, balance: 200, debitedAt: now },
  };

  it('debits the price', () => {
    wallet
      .given([charged(500, 500)])
      .when((state) => decideWallet({ type: 'Debit', data: step }, state))
      .then([debited]);
  });

  it('refuses a debit the balance cannot cover', () => {
    wallet
      .given([charged(299, 299)])
      .when((state) => decideWallet({ type: 'Debit', data: step }, state))
      .thenFails('INSUFFICIENT_BALANCE');
  });

  it('debits a payment once', () => {
    wallet
      .given([charged(500, 500), debited])
      .when((state) => decideWallet({ type: 'Debit', data: step }, state))
      .then([]);
  });

  it('refunds a debited payment once, and nothing that was not debited', () => {
    const refunded: WalletEvent = {
      type: 'WalletRefunded',
      data: { userId: 'alice', paymentId: 'p1', amount: 300, balance: 500, refundedAt: now },
    };
    wallet
      .given([charged(500, 500), debited])
      .when((state) => decideWallet({ type: 'Refund', data: step }, state))
      .then([refunded]);
    wallet
      .given([charged(500, 500), debited, refunded])
      .when((state) => decideWallet({ type: 'Refund', data: step }, state))
      .then([]);
    wallet
      .given([charged(500, 500)])
      .when((state) => decideWallet({ type: 'Refund', data: step }, state))
      .then([]);
  });
});
