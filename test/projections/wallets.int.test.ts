import { walletsProjection } from '../../src/projections/wallets.js';
import { at, projectionSpec } from '../support/projection-spec.js';
import { minute } from '../support/seat-events.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(walletsProjection);
});
afterAll(() => spec.drop());

const charged = (revision: number, userId: string, amount: number, balance: number) =>
  at(revision, {
    type: 'WalletCharged',
    data: { userId, chargeId: `charge-${revision}`, amount, balance, chargedAt: minute(revision) },
  });
const debited = (revision: number, userId: string, amount: number, balance: number) =>
  at(revision, {
    type: 'WalletDebited',
    data: { userId, paymentId: 'payment-1', amount, balance, debitedAt: minute(revision) },
  });
const refunded = (revision: number, userId: string, amount: number, balance: number) =>
  at(revision, {
    type: 'WalletRefunded',
    data: { userId, paymentId: 'payment-1', amount, balance, refundedAt: minute(revision) },
  });

const history = [
  [charged(0, 'ann', 5000, 5000), debited(1, 'ann', 3000, 2000), charged(0, 'bob', 700, 700)],
  [refunded(2, 'ann', 3000, 5000), charged(1, 'bob', 300, 1000), debited(2, 'bob', 1000, 0)],
];
const expected = [
  { user_id: 'ann', balance: 5000, revision: 2 },
  { user_id: 'bob', balance: 0, revision: 2 },
];

describe('wallets projection', () => {
  it('shows each wallet’s balance after its last event', async () => {
    const model = await spec.fresh();
    await model.apply(history[0]!);
    expect(await model.rows('wallets')).toEqual([
      { user_id: 'ann', balance: 2000, revision: 1 },
      { user_id: 'bob', balance: 700, revision: 0 },
    ]);
    await model.apply(history[1]!);
    expect(await model.rows('wallets')).toEqual(expected);
  });

  it('changes nothing when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('wallets')).toEqual(expected);
  });

  it('ignores an older wallet event applied after a newer one', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    await model.apply([debited(1, 'ann', 3000, 2000)]);
    expect(await model.rows('wallets')).toEqual(expected);
  });
});
