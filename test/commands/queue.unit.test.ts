import { jest } from '@jest/globals';
import { admissionBudget, decideQueue } from '../../src/deciders/queue.js';
import {
  cryptoRandomInt,
  drawOrder,
  seededRandomInt,
  type RandomInt,
} from '../../src/commands/queue-draw.js';
import { queueKind, type QueueEvent, type QueueSettings } from '../../src/events/queue.js';
import { deciderSpec } from '../support/decider.js';

const queue = deciderSpec(queueKind);
const t0 = '2030-01-02T00:00:00.000Z';
const later = '2030-01-02T01:00:00.000Z';
const first: QueueSettings = {
  mode: 'open',
  maxActive: 5,
  admissionsPerMinute: null,
  opensAt: null,
};
const configured = (opensAt: string | null = null): QueueEvent => ({
  type: 'QueueConfigured',
  data: { ...first, opensAt, configuredAt: t0 },
});

describe('queue settings decisions', () => {
  it('records the first values once, and a first opening already past is no pre-queue', () => {
    queue
      .given([])
      .when((state) =>
        decideQueue(
          { type: 'ConfigureQueue', data: { first: { ...first, opensAt: t0 }, now: t0 } },
          state,
        ),
      )
      .then([configured(null)]);
    queue
      .given([configured()])
      .when((state) => decideQueue({ type: 'ConfigureQueue', data: { first, now: t0 } }, state))
      .then([]);
  });

  it('refuses an opening that is not in the future, and an empty change', () => {
    queue
      .given([configured()])
      .when((state) =>
        decideQueue(
          { type: 'ChangeQueueSettings', data: { changes: { opensAt: t0 }, first, now: t0 } },
          state,
        ),
      )
      .thenFails('VALIDATION_FAILED');
    queue
      .given([configured()])
      .when((state) =>
        decideQueue({ type: 'ChangeQueueSettings', data: { changes: {}, first, now: t0 } }, state),
      )
      .thenFails('VALIDATION_FAILED');
  });

  it('opens a running pre-queue at once when its opening is cleared', () => {
    queue
      .given([configured(later)])
      .when((state) =>
        decideQueue(
          { type: 'ChangeQueueSettings', data: { changes: { opensAt: null }, first, now: t0 } },
          state,
        ),
      )
      .then([
        { type: 'QueueSettingsChanged', data: { changes: { opensAt: null }, changedAt: t0 } },
        { type: 'QueueOpened', data: { round: 1, openedAt: t0 } },
      ]);
  });

  it('opens when the time has come (not before), then draws that round exactly once', () => {
    queue
      .given([configured(later)])
      .when((state) => decideQueue({ type: 'OpenQueueIfDue', data: { now: t0 } }, state))
      .then([]);
    queue
      .given([configured(later)])
      .when((state) => decideQueue({ type: 'OpenQueueIfDue', data: { now: later } }, state))
      .then([{ type: 'QueueOpened', data: { round: 1, openedAt: later } }]);
    const opened: QueueEvent = { type: 'QueueOpened', data: { round: 1, openedAt: later } };
    const draw = {
      type: 'DrawPrequeue' as const,
      data: { round: 1, order: ['b', 'a'], now: later },
    };
    queue
      .given([configured(later), opened])
      .when((state) => decideQueue(draw, state))
      .then([{ type: 'PrequeueDrawn', data: { round: 1, order: ['b', 'a'], drawnAt: later } }]);
    queue
      .given([
        configured(later),
        opened,
        { type: 'PrequeueDrawn', data: { round: 1, order: ['b', 'a'], drawnAt: later } },
      ])
      .when((state) => decideQueue(draw, state))
      .then([]);
  });

  it('a moved opening is the new one', () => {
    const moved = '2030-01-02T02:00:00.000Z';
    queue
      .given([
        configured(later),
        { type: 'QueueSettingsChanged', data: { changes: { opensAt: moved }, changedAt: t0 } },
      ])
      .when((state) => decideQueue({ type: 'OpenQueueIfDue', data: { now: later } }, state))
      .then([]);
  });
});

describe('changing settings before the first values are recorded', () => {
  it('records the first values, then the change', () => {
    queue
      .given([])
      .when((state) =>
        decideQueue(
          { type: 'ChangeQueueSettings', data: { changes: { mode: 'paused' }, first, now: t0 } },
          state,
        ),
      )
      .then([
        configured(),
        { type: 'QueueSettingsChanged', data: { changes: { mode: 'paused' }, changedAt: t0 } },
      ]);
  });

  it('opens at once when the environment pre-queue is cleared before it was recorded', () => {
    queue
      .given([])
      .when((state) =>
        decideQueue(
          {
            type: 'ChangeQueueSettings',
            data: { changes: { opensAt: null }, first: { ...first, opensAt: later }, now: t0 },
          },
          state,
        ),
      )
      .then([
        configured(later),
        { type: 'QueueSettingsChanged', data: { changes: { opensAt: null }, changedAt: t0 } },
        { type: 'QueueOpened', data: { round: 1, openedAt: t0 } },
      ]);
  });

  it('does not draw a round that has not opened', () => {
    queue
      .given([configured(later)])
      .when((state) =>
        decideQueue({ type: 'DrawPrequeue', data: { round: 1, order: ['a'], now: t0 } }, state),
      )
      .then([]);
  });
});

describe('the admission budget', () => {
  const counts = { active: 2, admittedLastMinute: 0 };
  it('admits into the free slots, within the rate for the last minute', () => {
    expect(admissionBudget(first, counts)).toBe(3);
    expect(
      admissionBudget({ ...first, admissionsPerMinute: 4 }, { active: 0, admittedLastMinute: 3 }),
    ).toBe(1);
    expect(admissionBudget(first, { active: 7, admittedLastMinute: 0 })).toBe(0);
  });

  it('admits none while paused or in a pre-queue, and all in passthrough', () => {
    expect(admissionBudget({ ...first, mode: 'paused' }, counts)).toBe(0);
    expect(admissionBudget({ ...first, opensAt: later }, counts)).toBe(0);
    expect(admissionBudget({ ...first, mode: 'passthrough' }, counts)).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

/** Chi-squared statistic of the place of item 0 over `draws` draws of `n` items, in `bins` bins. */
function placeChiSquared(random: RandomInt, n: number, draws: number, bins: number): number {
  const items = Array.from({ length: n }, (_, i) => i);
  const counts = new Array<number>(bins).fill(0);
  for (let d = 0; d < draws; d++) {
    const place = drawOrder(items, random).indexOf(0);
    counts[Math.floor((place * bins) / n)]!++;
  }
  const expected = draws / bins;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

// Chi-squared with 19 degrees of freedom: exceeded with probability 0.001 at 43.82.
const critical19 = 43.82;

describe('the opening draw', () => {
  it('gives a fixed early joiner a uniform place among 2,000 (chi-squared, fixed seed)', () => {
    expect(placeChiSquared(seededRandomInt(20_301), 2000, 4000, 20)).toBeLessThan(critical19);
  });

  it('the same test catches a biased shuffle', () => {
    // A source that stops being random halfway (j = i from then on): the first joiners
    // then keep their places about half the time.
    const seeded = seededRandomInt(20_301);
    let calls = 0;
    const biased: RandomInt = (maxExclusive) =>
      calls++ % 1999 < 1000 ? seeded(maxExclusive) : maxExclusive - 1;
    expect(placeChiSquared(biased, 2000, 4000, 20)).toBeGreaterThan(critical19);
  });

  it('early pre-queue joiners fare no better than late ones', () => {
    const random = seededRandomInt(7);
    const items = Array.from({ length: 2000 }, (_, i) => i);
    let early = 0;
    let late = 0;
    const draws = 300;
    for (let d = 0; d < draws; d++) {
      const placeOf = new Map(drawOrder(items, random).map((item, place) => [item, place]));
      for (let i = 0; i < 100; i++) {
        early += placeOf.get(i)!;
        late += placeOf.get(1999 - i)!;
      }
    }
    // Mean places of the first and the last 100 joiners: both about 999.5, and the
    // standard error of each mean over 30,000 places is about 3.3.
    expect(Math.abs(early / (draws * 100) - 999.5)).toBeLessThan(15);
    expect(Math.abs(late / (draws * 100) - 999.5)).toBeLessThan(15);
  });

  it('places every token exactly once', () => {
    const items = Array.from({ length: 500 }, (_, i) => `t${i}`);
    const order = drawOrder(items, seededRandomInt(1));
    expect([...order].sort()).toEqual([...items].sort());
  });

  it('production draws come from the cryptographic source', () => {
    const spy = jest.spyOn(globalThis.crypto, 'getRandomValues');
    const values = Array.from({ length: 200 }, () => cryptoRandomInt(7));
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
    expect(values.every((value) => Number.isInteger(value) && value >= 0 && value < 7)).toBe(true);
    expect(new Set(values).size).toBe(7);
  });
});
