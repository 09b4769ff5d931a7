import {
  estimateWaitSeconds,
  lineEstimator,
  type LineSnapshot,
} from '../../src/queries/queue-estimate.js';

const line = (overrides: Partial<LineSnapshot> = {}): LineSnapshot => ({
  settings: { mode: 'open', maxActive: 5, admissionsPerMinute: null, opensAt: null },
  activeRemaining: [],
  meanPassSeconds: 3,
  ttlSeconds: 3,
  recent: { count: 0, spanSeconds: 0 },
  admittedLastMinute: 0,
  admissionIntervalSeconds: 1,
  secondsToOpening: 0,
  ...overrides,
});

describe('estimated wait', () => {
  it('in a fresh line, follows the cap and the pass duration (5 slots, 3 s pass)', () => {
    // 70 join at once: the first five get the free slots at the next round; every next
    // five wait one more turn of a slot: the 3 s pass and, as it ends on the beat of the
    // rounds, half a round on average for the round that sees it ended (3.5 s).
    const estimates = [1, 5, 6, 10, 11, 56].map((position) =>
      estimateWaitSeconds(position, line()),
    );
    expect(estimates).toEqual([1, 1, 5, 5, 8, 40]);
  });

  it('counts on the live passes ending, as long as passes actually last', () => {
    const busy = line({ activeRemaining: [0.5, 1, 2, 2.5, 3] });
    // Each slot frees when its pass ends, plus half a round for the round that sees it.
    expect(estimateWaitSeconds(1, busy)).toBe(1);
    expect(estimateWaitSeconds(5, busy)).toBe(Math.round(3 + 0.5));
    expect(estimateWaitSeconds(6, busy)).toBe(Math.round(0.5 + 3.5 + 0.5));
  });

  it('follows the pace a full line actually moves at', () => {
    // 5 slots turning over every 4.5 s (rounds running late), not every 3 s.
    const slow = line({
      activeRemaining: [0.5, 1, 2, 2.5, 3],
      recent: { count: 30, spanSeconds: 27 },
    });
    expect(estimateWaitSeconds(6, slow)).toBe(Math.round(0.5 + 1.5 + 4.5));
  });

  it('keeps to the measured pace while ended passes wait for the next round to free them', () => {
    // A steady line: two passes have run out but the next round has not recorded it yet
    // (remaining 0); the slots turn over every 4 s, measured over the last 30 s.
    const steady = line({
      activeRemaining: [0, 0, 1, 2, 3],
      recent: { count: 37, spanSeconds: 29.6 },
    });
    // The 11th in line gets the first slot's third turn: it frees now (0), then two turns
    // of 4 s, then the second between a pass's 3 s and the round that records its end.
    expect(estimateWaitSeconds(11, steady)).toBe(Math.round(0 + 2 * 4 + (4 - 3)));
    // The further back, the more turns of 4 s, not of the model's 3 s.
    const far = estimateWaitSeconds(51, steady)!;
    expect(far).toBe(Math.round(0 + 10 * 4 + 1));
    expect(far).toBeGreaterThan(
      estimateWaitSeconds(51, line({ activeRemaining: [0, 0, 1, 2, 3] }))!,
    );
  });

  it('gives the same answer per position from one prepared line as one by one', () => {
    const busy = line({ activeRemaining: [0.5, 1, 2], admittedLastMinute: 40 });
    const estimate = lineEstimator(busy);
    for (const position of [null, 0, 1, 2, 3, 7, 40, 400])
      expect(estimate(position)).toBe(estimateWaitSeconds(position, busy));
  });

  it('follows a lowered cap, the rate limit, a pause and a pre-queue', () => {
    const lowered = line({
      settings: { mode: 'open', maxActive: 2, admissionsPerMinute: null, opensAt: null },
      activeRemaining: [1, 2, 3],
    });
    expect(estimateWaitSeconds(1, lowered)).toBe(3); // the second pass to end (2 s) frees the slot
    const limited = line({
      settings: { mode: 'open', maxActive: 100, admissionsPerMinute: 6, opensAt: null },
      admittedLastMinute: 6,
    });
    expect(estimateWaitSeconds(3, limited)).toBe(30);
    expect(
      estimateWaitSeconds(3, line({ settings: { ...line().settings, mode: 'paused' } })),
    ).toBeNull();
    expect(estimateWaitSeconds(null, line())).toBeNull();
    expect(estimateWaitSeconds(1, line({ secondsToOpening: 100 }))).toBe(101);
  });
});
