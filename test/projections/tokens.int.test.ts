import { tokensProjection } from '../../src/projections/tokens.js';
import { at, projectionSpec } from '../support/projection-spec.js';

let spec: Awaited<ReturnType<typeof projectionSpec>>;
beforeAll(async () => {
  spec = await projectionSpec(tokensProjection);
});
afterAll(() => spec.drop());

const t = (minutes: number) => new Date(Date.UTC(2030, 0, 2, 0, minutes)).toISOString();
const issued = (tokenId: string, minute: number) =>
  at(0, { type: 'TokenIssued', data: { tokenId, userId: `user-${tokenId}`, issuedAt: t(minute) } });
const admitted = (tokenId: string, minute: number) =>
  at(1, {
    type: 'TokenAdmitted',
    data: { tokenId, userId: `user-${tokenId}`, admittedAt: t(minute), expiresAt: t(minute + 10) },
  });
const expired = (tokenId: string, minute: number) =>
  at(2, {
    type: 'TokenExpired',
    data: { tokenId, userId: `user-${tokenId}`, reason: 'ttl', expiredAt: t(minute) },
  });

const history = [
  [issued('a', 0), issued('b', 1)],
  [issued('c', 2), admitted('a', 3)],
  [expired('a', 13)],
];

const expectedTokens = [
  {
    token_id: 'a',
    user_id: 'user-a',
    status: 'expired',
    queue_number: 1,
    issued_at: new Date(t(0)),
    updated_at: new Date(t(13)),
    admitted_at: new Date(t(3)),
    expires_at: new Date(t(13)),
    draw_round: null,
    expired_reason: 'ttl',
  },
  {
    token_id: 'b',
    user_id: 'user-b',
    status: 'hold',
    queue_number: 2,
    issued_at: new Date(t(1)),
    updated_at: new Date(t(1)),
    admitted_at: null,
    expires_at: null,
    draw_round: null,
    expired_reason: null,
  },
  {
    token_id: 'c',
    user_id: 'user-c',
    status: 'hold',
    queue_number: 3,
    issued_at: new Date(t(2)),
    updated_at: new Date(t(2)),
    admitted_at: null,
    expires_at: null,
    draw_round: null,
    expired_reason: null,
  },
];

const stats = {
  id: 1,
  issued_count: 3,
  admitted_count: 1,
  openings: 0,
  prequeue_round: 0,
  opens_at: null,
};

describe('tokens projection', () => {
  it('numbers tokens in log order across batches and counts issued and admitted ones', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    expect(await model.rows('tokens')).toEqual(expectedTokens);
    expect(await model.rows('queue_stats')).toEqual([stats]);
  });

  it('changes nothing, counters included, when the same events are applied twice', async () => {
    const model = await spec.fresh();
    for (const batch of history) await model.apply(batch);
    for (const batch of history) await model.apply(batch);
    await model.apply(history.flat());
    expect(await model.rows('tokens')).toEqual(expectedTokens);
    expect(await model.rows('queue_stats')).toEqual([stats]);
  });

  it('does not bring an expired token back when its admission is applied again', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    await model.apply([admitted('a', 3)]);
    expect((await model.rows('tokens'))[0]).toMatchObject({ token_id: 'a', status: 'expired' });
    expect(await model.rows('queue_stats')).toEqual([stats]);
  });
});

describe('tokens projection: a pre-queue', () => {
  const configured = at(0, {
    type: 'QueueConfigured',
    data: {
      mode: 'open',
      maxActive: 10,
      admissionsPerMinute: null,
      opensAt: t(30),
      configuredAt: t(0),
    },
  });
  const opened = at(1, { type: 'QueueOpened', data: { round: 1, openedAt: t(30) } });
  const drawn = at(2, {
    type: 'PrequeueDrawn',
    data: { round: 1, order: ['p2', 'p1'], drawnAt: t(31) },
  });
  const history = [
    [configured, issued('p1', 1), issued('p2', 2)],
    [opened, issued('late', 30)],
    [drawn],
  ];
  const numbers = async (model: Awaited<ReturnType<typeof spec.fresh>>) =>
    (await model.rows('tokens')).map((row) => [row.token_id, row.queue_number, row.draw_round]);

  it('numbers pre-queued tokens in the drawn order, before anyone who joined after the opening', async () => {
    const model = await spec.fresh();
    await model.apply(history[0]!);
    expect(await numbers(model)).toEqual([
      ['p1', null, 1],
      ['p2', null, 1],
    ]);
    for (const batch of history.slice(1)) await model.apply(batch);
    expect(await numbers(model)).toEqual([
      ['late', 3, null],
      ['p1', 2, 1],
      ['p2', 1, 1],
    ]);
  });

  it('leaves the same numbers when the history is one batch or applied twice', async () => {
    const model = await spec.fresh();
    await model.apply(history.flat());
    await model.apply(history.flat());
    expect(await numbers(model)).toEqual([
      ['late', 3, null],
      ['p1', 2, 1],
      ['p2', 1, 1],
    ]);
  });
});
