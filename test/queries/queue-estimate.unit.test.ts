import {
  estimateWaitSeconds,
  lineAt,
  lineEstimator,
  refillLag,
  roundClock,
  type LineSnapshot,
} from '../../src/queries/queue-estimate.js';

const open = { mode: 'open', maxActive: 5, admissionsPerMinute: null, opensAt: null } as const;
const fresh = (overrides: Partial<LineSnapshot> = {}): LineSnapshot => ({
  settings: open,
  takenAt: 1_000_000,
  activeRemaining: [],
  meanPassSeconds: 3,
  ttlSeconds: 3,
  roundTimes: [],
  refillLags: [],
  admittedLastMinute: 0,
  admissionIntervalSeconds: 1,
  secondsToOpening: 0,
  ...overrides,
});

/** Rounds on a 1 s beat over the last `count` seconds, each `offsets[i % n]` late. */
const rounds = (count: number, offsets: readonly number[]) =>
  Array.from({ length: count }, (_, i) => -count + i + offsets[i % offsets.length]!);

describe('estimated wait', () => {
  it('in a fresh line, follows the cap and the pass duration (5 slots, 3 s pass)', () => {
    // 70 join at once: the first five get the free slots at the next round (half a round
    // away on average); their passes end 3 s later, on the beat of the rounds, so the
    // round that sees them ended is a coin flip (half a round on average): the next five
    // wait 0.5 + 3 + 0.5 s, and every further five one more turn of 3.5 s.
    const estimates = [1, 5, 6, 10, 11, 56].map((position) =>
      estimateWaitSeconds(position, fresh()),
    );
    expect(estimates).toEqual([1, 1, 4, 4, 8, 39]);
  });

  it('counts on the live passes ending, and on the round that sees each end', () => {
    const busy = fresh({ activeRemaining: [0.5, 1, 2, 2.5, 3] });
    expect(estimateWaitSeconds(1, busy)).toBe(1); // 0.5 + half a round
    expect(estimateWaitSeconds(5, busy)).toBe(Math.round(3 + 0.5));
    expect(estimateWaitSeconds(6, busy)).toBe(Math.round(0.5 + 0.5 + 3.5));
  });

  it('turns slots over at the pace refills were measured at, not the model', () => {
    // Rounds running late (load): freed slots were refilled 1.5 s after the pass ended.
    const slow = fresh({ activeRemaining: [0.5, 1, 2, 2.5, 3], refillLags: [1.5, 1.4, 1.6] });
    expect(refillLag(slow)).toBeCloseTo(1.5);
    expect(estimateWaitSeconds(6, slow)).toBe(Math.round(0.5 + 1.5 + 4.5));
    // A refill many rounds late means nobody was waiting for the slot: not the pace.
    expect(refillLag(fresh({ refillLags: [0, 1, 0, 12] }))).toBeCloseTo(1 / 3);
    // Too little history: the model (a coin flip on the beat: half a round).
    expect(refillLag(fresh({ refillLags: [2, 2] }))).toBe(0.5);
    // Passes ending early (payments) wait half a round for the next one.
    expect(refillLag(fresh({ meanPassSeconds: 1.2 }))).toBe(0.5);
  });

  it('knows which passes the round a TTL later will see ended, from when rounds run', () => {
    // Rounds ran 0 to 0.2 s after their beat (typically 0.1 s: at 0.1, 1.1, 2.1 s from
    // now). A pass ends exactly 3 s after the round that admitted it: one admitted by a
    // round 0.2 s late ends at 2.2 s, and only the rounds as late as that (a fifth) would
    // see it at 2.2; the others see it a round later. One admitted by a round 0.1 s early
    // (ending at 2.0) is seen by the round at 2.1 whatever its delay.
    const times = rounds(20, [0, 0.05, 0.1, 0.15, 0.2]);
    const clock = roundClock(fresh({ roundTimes: times }), 0.5);
    expect(clock.refilledAt(2.2)).toBeCloseTo(2.1 + 0.8, 5);
    expect(clock.refilledAt(2.0)).toBeCloseTo(2.1, 5);
    // A slot freed now goes to the next round, typically 0.1 s from now.
    expect(clock.nextRound).toBeCloseTo(0.1, 5);
    const late = fresh({ roundTimes: times, activeRemaining: [2.2, 2.2, 2.2, 2.2, 2.2] });
    const early = fresh({ roundTimes: times, activeRemaining: [2.0, 2.0, 2.0, 2.0, 2.0] });
    expect(estimateWaitSeconds(1, late)).toBe(3);
    expect(estimateWaitSeconds(1, early)).toBe(2);
  });

  it('counts from the moment asked, not from when the shared snapshot was read', () => {
    const snapshot = fresh({ activeRemaining: [1.5, 2, 2, 3, 3], roundTimes: rounds(10, [0]) });
    const later = lineAt(snapshot, snapshot.takenAt + 1000);
    expect(later.activeRemaining).toEqual([0.5, 1, 1, 2, 2]);
    expect(later.roundTimes[later.roundTimes.length - 1]).toBe(-2);
    expect(estimateWaitSeconds(4, later)).toBe(estimateWaitSeconds(4, snapshot)! - 1);
    // A pass already past its end still holds its slot until a round sees it: 0, not less.
    expect(lineAt(snapshot, snapshot.takenAt + 2000).activeRemaining[0]).toBe(0);
    expect(lineAt(fresh({ secondsToOpening: 5 }), 1_000_000 + 2000).secondsToOpening).toBe(3);
  });

  it('gives the same answer per position from one prepared line as one by one', () => {
    const busy = fresh({
      activeRemaining: [0.5, 1, 2],
      admittedLastMinute: 40,
      roundTimes: rounds(12, [0.1, 0.3]),
      refillLags: [0.2, 1.1, 0.4],
    });
    const estimate = lineEstimator(busy);
    for (const position of [null, 0, 1, 2, 3, 7, 40, 400])
      expect(estimate(position)).toBe(estimateWaitSeconds(position, busy));
  });

  it('follows a raised or lowered cap at once, the rate limit, a pause and a pre-queue', () => {
    const full = { activeRemaining: [1, 1, 2, 2, 3], refillLags: [0.5, 0.5, 0.5] };
    expect(estimateWaitSeconds(3, fresh(full))).toBe(3); // the third pass ends at 2 s
    // Raised to 10: five slots free now, the third in line gets one at the next round.
    expect(estimateWaitSeconds(3, fresh({ ...full, settings: { ...open, maxActive: 10 } }))).toBe(
      1,
    );
    const lowered = fresh({ settings: { ...open, maxActive: 2 }, activeRemaining: [1, 2, 3] });
    expect(estimateWaitSeconds(1, lowered)).toBe(3); // the second pass to end (2 s) frees the slot
    const limited = fresh({
      settings: { ...open, maxActive: 100, admissionsPerMinute: 6 },
      admittedLastMinute: 6,
    });
    expect(estimateWaitSeconds(3, limited)).toBe(30);
    expect(estimateWaitSeconds(3, fresh({ settings: { ...open, mode: 'paused' } }))).toBeNull();
    expect(estimateWaitSeconds(3, fresh({ settings: { ...open, mode: 'passthrough' } }))).toBe(1);
    expect(estimateWaitSeconds(null, fresh())).toBeNull();
    expect(estimateWaitSeconds(1, fresh({ secondsToOpening: 100 }))).toBe(101);
  });
});
