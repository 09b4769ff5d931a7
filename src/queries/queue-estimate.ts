import type { Observable } from 'rxjs';
import type { QueueSettings } from '../events/queue.js';
import type { Db } from '../projections/database.js';
import { readLineSnapshot } from './line-snapshot.js';

/** What the line looks like at `takenAt`: the inputs of every waiting user's estimate. */
export interface LineSnapshot {
  readonly settings: QueueSettings;
  /** When it was read (ms since the epoch): the times below count from then. */
  readonly takenAt: number;
  /** Live passes' remaining seconds (if held for the mean pass duration), ascending. */
  readonly activeRemaining: readonly number[];
  /** How long a pass lasts in practice: recently ended passes, else the TTL. */
  readonly meanPassSeconds: number;
  readonly ttlSeconds: number;
  /** When the admission rounds of the last 30 s ran (seconds, negative: before takenAt). */
  readonly roundTimes: readonly number[];
  /** Per pass ended in the last 30 s, the seconds until the round that refilled its slot. */
  readonly refillLags: readonly number[];
  /** Admissions in the last 60 s (the rate limit's window). */
  readonly admittedLastMinute: number;
  readonly admissionIntervalSeconds: number;
  /** Seconds until a running pre-queue opens (0 if none). */
  readonly secondsToOpening: number;
}

/** The same line seen `now` (ms): a snapshot read a moment ago is that much further on. */
export function lineAt(line: LineSnapshot, now: number): LineSnapshot {
  const age = (now - line.takenAt) / 1000;
  if (age <= 0) return line;
  return {
    ...line,
    takenAt: now,
    activeRemaining: line.activeRemaining.map((remaining) => Math.max(0, remaining - age)),
    roundTimes: line.roundTimes.map((at) => at - age),
    secondsToOpening: Math.max(0, line.secondsToOpening - age),
  };
}

/**
 * The estimated wait of the waiting token at `position`, from how the line moves now:
 * slots free up as the live passes end (each after the mean pass duration actually seen,
 * the TTL with no history), the round that sees a slot free gives it to the next in line,
 * and the rate limit caps the pace. Follows cap, rate and mode at once; null while paused
 * (nobody knows when it resumes) or while the position is unknown.
 */
export function estimateWaitSeconds(position: number | null, line: LineSnapshot): number | null {
  return lineEstimator(line)(position);
}

/**
 * The estimate of every position in one line snapshot: what does not depend on the
 * position (each slot's next refill, the cycle) is worked out once, so a waiting room
 * estimating thousands of positions per snapshot pays O(1) each.
 */
export function lineEstimator(line: LineSnapshot): (position: number | null) => number | null {
  const { settings } = line;
  if (settings.mode === 'paused') return () => null;
  const lag = refillLag(line);
  const rounds = roundClock(line, lag);
  const { nextRound } = rounds;
  if (settings.mode === 'passthrough') {
    const wait = Math.max(1, Math.round(line.secondsToOpening + nextRound));
    return (position) => (position === null ? null : position <= 0 ? 0 : wait);
  }
  const cap = settings.maxActive;
  const active = line.activeRemaining.length;
  const free = Math.max(0, cap - active);
  // A slot turns over once per pass plus the wait for the round that sees it free.
  const cycle = line.meanPassSeconds + lag;
  // Each slot's next refill: a live pass's end seen by a round; a free slot goes to the
  // next round's admission, whose pass then ends and is refilled in turn.
  const refills = line.activeRemaining.map((remaining) => rounds.refilledAt(remaining));
  while (refills.length < cap) refills.push(nextRound + line.meanPassSeconds + lag);
  refills.sort((a, b) => a - b);
  // With more passes than the cap (it was lowered), the first excess endings free nothing.
  const excess = Math.max(0, active - cap);
  const perMinute = settings.admissionsPerMinute;
  // The budget left in this minute goes first; then the limit's pace.
  const budget = perMinute === null ? 0 : Math.max(0, perMinute - line.admittedLastMinute);
  return (position) => {
    if (position === null) return null;
    if (position <= 0) return 0;
    let capWait = nextRound;
    if (position > free) {
      const k = position - free - 1;
      const first = refills[Math.min(refills.length - 1, excess + (k % cap))]!;
      capWait = first + Math.floor(k / cap) * cycle;
    }
    let rateWait = 0;
    if (perMinute !== null && position > budget) rateWait = ((position - budget) * 60) / perMinute;
    return Math.max(1, Math.round(line.secondsToOpening + Math.max(capWait, rateWait)));
  };
}

/** A refill later than this many rounds means nobody was waiting: not the line's pace. */
const idleRounds = 3;

/**
 * The mean seconds from a pass ending to the round that refills its slot: measured (the
 * last 30 s of refills, at least three), else what the rounds allow. Passes that run their
 * full time end on the beat of the rounds that admitted them: whether the round a TTL
 * later sees them ended is a coin flip (half a round on average); passes that end early
 * (a payment) wait half a round on average.
 */
export function refillLag(line: LineSnapshot): number {
  const interval = line.admissionIntervalSeconds;
  const lags = line.refillLags.filter((lag) => lag >= 0 && lag <= idleRounds * interval);
  if (lags.length >= 3) return lags.reduce((sum, lag) => sum + lag, 0) / lags.length;
  if (line.meanPassSeconds < 0.95 * line.ttlSeconds) return interval / 2;
  const rounds = line.meanPassSeconds / interval;
  const onTheBeat = Math.abs(rounds - Math.round(rounds)) < 1e-9 ? interval / 2 : 0;
  return Math.ceil(rounds - 1e-9) * interval - line.meanPassSeconds + onTheBeat;
}

/**
 * When a round will see a slot freed at `at` (seconds from now), from when the recent rounds
 * ran. Rounds start on a fixed beat and each takes its time (`now` inside a round is the
 * beat plus its own delay), so a time just after the beat may or may not be seen by that
 * round: the share of recent rounds that ran earlier than it says how likely it is missed.
 * A pass ends exactly a TTL after its round's time, so a pass admitted by a late round is
 * likely seen only by the round after. With fewer than three recent rounds: a slot freed
 * now waits half a round, a pass's end the mean refill lag.
 */
export function roundClock(
  line: LineSnapshot,
  lag: number,
): { nextRound: number; refilledAt(at: number): number } {
  const interval = line.admissionIntervalSeconds;
  const times = line.roundTimes;
  if (times.length < 3)
    return { nextRound: interval / 2, refilledAt: (at) => Math.max(0, at) + lag };
  const reference = times[times.length - 1]!;
  const wrap = (x: number) => x - Math.round(x / interval) * interval;
  const raw = times.map((time) => wrap(time - reference)).sort((a, b) => a - b);
  const center = raw[raw.length >> 1]!;
  // Each round's delay from the beat's typical time, within half a round of it.
  const offsets = raw.map((offset) => wrap(offset - center));
  const meanOffset = offsets.reduce((sum, offset) => sum + offset, 0) / offsets.length;
  const refilledAt = (at: number) => {
    const from = Math.max(0, at);
    const x = wrap(from - reference - center);
    // Rounds that ran earlier on their beat than x would miss it; the next beat's sees it.
    const missed = offsets.filter((offset) => offset < x - 1e-9).length / offsets.length;
    const refilled = from - x + meanOffset + missed * interval;
    // A round already past cannot see it: the next one does.
    return refilled < 0 ? refilled + interval : refilled;
  };
  return { nextRound: refilledAt(0), refilledAt };
}

/**
 * The estimate for a token, with the line's snapshot read at most once a second (every
 * waiting poller shares it), and again as soon as a round has moved the line (the leader
 * sees that at once): a snapshot from before a round would count slots that round
 * already gave away. Settings come from the stream `queue` itself.
 */
export function createWaitEstimator(deps: {
  db: Db;
  clock: () => Date;
  readSettings: () => Promise<QueueSettings>;
  ttlSeconds: number;
  admissionIntervalMs: number;
  /** Emits when the stream `queue` changed (the leader sees it at once). */
  queueChanged?: Observable<unknown>;
  /** Emits when passes were admitted or ended (the leader sees it at once). */
  lineMoved?: Observable<{ admitted: boolean }>;
}) {
  type Cached = { snapshot: Promise<LineSnapshot>; at: number; clockAt: number };
  let cached: (Cached & { moved: 'no' | 'ended' | 'admitted' }) | undefined;
  deps.queueChanged?.subscribe(() => (cached = undefined));
  deps.lineMoved?.subscribe(({ admitted }) => {
    if (cached)
      cached.moved = admitted ? 'admitted' : cached.moved === 'no' ? 'ended' : cached.moved;
  });
  const snapshot = () => {
    const now = deps.clock();
    const age = cached ? performance.now() - cached.at : 0;
    // After an admission the next ask reads again: a snapshot from before it would give the
    // slots it filled to positions that already moved up. Ends alone (payments come in
    // bursts) are read again at most every 100 ms.
    const stale =
      !cached ||
      age > 1000 ||
      cached.moved === 'admitted' ||
      (cached.moved === 'ended' && age > 100) ||
      Math.abs(now.getTime() - cached.clockAt) > 1000;
    if (stale) {
      const loading = deps.readSettings().then((settings) =>
        readLineSnapshot(deps.db, now, settings, {
          ttlSeconds: deps.ttlSeconds,
          admissionIntervalMs: deps.admissionIntervalMs,
        }),
      );
      const entry = {
        snapshot: loading,
        at: performance.now(),
        clockAt: now.getTime(),
        moved: 'no' as const,
      };
      cached = entry;
      loading.catch(() => cached === entry && (cached = undefined));
    }
    return cached!.snapshot;
  };
  const estimate = async (token: {
    status: string;
    position: number | null;
  }): Promise<number | null> => {
    if (token.status !== 'hold') return 0;
    if (token.position === null) return null;
    // Counted from now, not from when the shared snapshot was read.
    return estimateWaitSeconds(token.position, lineAt(await snapshot(), deps.clock().getTime()));
  };
  /** The cached line, for callers that estimate many positions at once (the waiting room). */
  return Object.assign(estimate, { line: snapshot });
}
