import { estimateWaitSeconds, type LineSnapshot } from '../../src/queries/queue-estimate.js';

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
    // five wait one more pass (3 s) and a round.
    const estimates = [1, 5, 6, 10, 11, 56].map((position) =>
      estimateWaitSeconds(position, line()),
    );
    expect(estimates).toEqual([1, 1, 4, 4, 7, 34]);
  });

  it('counts on the live passes ending, as long as passes actually last', () => {
    const busy = line({ activeRemaining: [0.5, 1, 2, 2.5, 3] });
    expect(estimateWaitSeconds(1, busy)).toBe(1);
    expect(estimateWaitSeconds(5, busy)).toBe(3);
    expect(estimateWaitSeconds(6, busy)).toBe(4);
  });

  it('follows the pace a full line actually moves at', () => {
    // 5 slots turning over every 4.5 s (rounds running late), not every 3 s.
    const slow = line({
      activeRemaining: [0.5, 1, 2, 2.5, 3],
      recent: { count: 30, spanSeconds: 27 },
    });
    expect(estimateWaitSeconds(6, slow)).toBe(Math.round(0.5 + 1.5 + 4.5));
  });

  it('follows a lowered cap, the rate limit, a pause and a pre-queue', () => {
    const lowered = line({
      settings: { mode: 'open', maxActive: 2, admissionsPerMinute: null, opensAt: null },
      activeRemaining: [1, 2, 3],
    });
    expect(estimateWaitSeconds(1, lowered)).toBe(2); // the second pass to end frees the slot
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
