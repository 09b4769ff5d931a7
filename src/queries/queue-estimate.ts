import { sql } from 'kysely';
import type { Observable } from 'rxjs';
import type { QueueSettings } from '../events/queue.js';
import type { Db } from '../projections/database.js';

/** What the line looks like now: the inputs of every waiting user's estimate. */
export interface LineSnapshot {
  readonly settings: QueueSettings;
  /** Live passes' remaining seconds (if held for the mean pass duration), ascending. */
  readonly activeRemaining: readonly number[];
  /** How long a pass lasts in practice: recently ended passes, else the TTL. */
  readonly meanPassSeconds: number;
  readonly ttlSeconds: number;
  /** Admissions in the last 30 s and the seconds since the first of them: the line's pace. */
  readonly recent: { readonly count: number; readonly spanSeconds: number };
  /** Admissions in the last 60 s (the rate limit's window). */
  readonly admittedLastMinute: number;
  readonly admissionIntervalSeconds: number;
  /** Seconds until a running pre-queue opens (0 if none). */
  readonly secondsToOpening: number;
}

/**
 * The estimated wait of the waiting token at `position`, from how the line moves now:
 * slots free up as the live passes end (each after the mean pass duration actually seen,
 * the TTL with no history), every freed slot takes the next in line at the next
 * admission round, and the rate limit caps the pace. Follows cap, rate and mode at once;
 * null while paused (nobody knows when it resumes) or while the position is unknown.
 */
export function estimateWaitSeconds(position: number | null, line: LineSnapshot): number | null {
  return lineEstimator(line)(position);
}

/**
 * The estimate of every position in one line snapshot: what does not depend on the
 * position (the sorted pass endings, the cycle) is worked out once, so a waiting room
 * estimating thousands of positions per snapshot pays O(1) each.
 */
export function lineEstimator(line: LineSnapshot): (position: number | null) => number | null {
  const { settings } = line;
  const round = line.admissionIntervalSeconds / 2;
  if (settings.mode === 'paused') return () => null;
  if (settings.mode === 'passthrough') {
    const wait = Math.max(1, Math.round(line.secondsToOpening + round));
    return (position) => (position === null ? null : position <= 0 ? 0 : wait);
  }
  const cap = settings.maxActive;
  const active = line.activeRemaining.length;
  const free = Math.max(0, cap - active);
  const { cycle, latency } = slotCycle(line);
  // Slot k (0-based, after the free ones) frees when the k-th pass ends, then every cycle.
  // Free slots now go to those ahead at the next round and turn over a cycle later.
  const ends = [...line.activeRemaining];
  while (ends.length < cap) ends.push(round + cycle);
  ends.sort((a, b) => a - b);
  // With more passes than the cap (it was lowered), the first excess endings free nothing.
  const excess = Math.max(0, active - cap);
  const perMinute = settings.admissionsPerMinute;
  // The budget left in this minute goes first; then the limit's pace.
  const budget = perMinute === null ? 0 : Math.max(0, perMinute - line.admittedLastMinute);
  return (position) => {
    if (position === null) return null;
    if (position <= 0) return 0;
    let capWait = round;
    if (position > free) {
      const k = position - free - 1;
      const first = ends[Math.min(ends.length - 1, excess + (k % cap))]!;
      capWait = first + Math.floor(k / cap) * cycle + latency;
    }
    let rateWait = 0;
    if (perMinute !== null && position > budget) rateWait = ((position - budget) * 60) / perMinute;
    return Math.max(1, Math.round(line.secondsToOpening + Math.max(capWait, rateWait)));
  };
}

/** How long one slot takes to turn over, and the wait from a slot freeing to its use. */
function slotCycle(line: LineSnapshot): { cycle: number; latency: number } {
  const cap = line.settings.maxActive;
  const active = line.activeRemaining.length;
  const round = line.admissionIntervalSeconds / 2;
  // Passes that run their full time end in step with the rounds that admitted them, so
  // a freed slot is taken at once and a slot turns over every whole number of rounds;
  // passes that end early (a payment) wait half a round on average for the next one.
  const interval = line.admissionIntervalSeconds;
  const fullPasses = line.meanPassSeconds >= 0.95 * line.ttlSeconds;
  // A pass lasting a whole number of rounds ends just as a round starts on the same beat
  // as the one that admitted it: a coin flip whether that round sees it ended or the next.
  const rounds = line.meanPassSeconds / interval;
  const onTheBeat = Math.abs(rounds - Math.round(rounds)) < 1e-9 ? round : 0;
  const modelCycle = fullPasses
    ? Math.ceil(rounds - 1e-9) * interval + onTheBeat
    : line.meanPassSeconds + round;
  // A full line's measured pace says how long a slot really takes to turn over (rounds
  // run late under load); with too little history the model stands.
  const { count, spanSeconds } = line.recent;
  const measured =
    active >= cap && spanSeconds >= 10 && count >= cap ? (cap * spanSeconds) / count : 0;
  const cycle = Math.min(3 * modelCycle, Math.max(modelCycle, measured));
  const latency = fullPasses ? cycle - line.meanPassSeconds : round;
  return { cycle, latency };
}

/** Reads the line's snapshot; callers cache it (one read a second serves every poller). */
export async function readLineSnapshot(
  db: Db,
  now: Date,
  settings: QueueSettings,
  options: { ttlSeconds: number; admissionIntervalMs: number },
): Promise<LineSnapshot> {
  const meanPassSeconds = await readMeanPassSeconds(db, now, options.ttlSeconds);
  const activeRemaining = await readActiveRemaining(db, now, settings, options, meanPassSeconds);
  const { count } = await db
    .selectFrom('tokens')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('admitted_at', '>', new Date(now.getTime() - 60_000))
    .executeTakeFirstOrThrow();
  const opensAt = settings.opensAt ? Date.parse(settings.opensAt) : 0;
  return {
    settings,
    activeRemaining,
    meanPassSeconds,
    ttlSeconds: options.ttlSeconds,
    recent: await readRecentPace(db, now),
    admittedLastMinute: count,
    admissionIntervalSeconds: options.admissionIntervalMs / 1000,
    secondsToOpening: Math.max(0, (opensAt - now.getTime()) / 1000),
  };
}

/** Passes that ended early (a payment) in the last few minutes say how long one lasts. */
async function readMeanPassSeconds(db: Db, now: Date, ttlSeconds: number): Promise<number> {
  const ended = await db
    .selectFrom('tokens')
    .select(
      sql<number | null>`avg(extract(epoch FROM updated_at - admitted_at))::float8`.as('mean'),
    )
    .where('status', '=', 'expired')
    .where('admitted_at', 'is not', null)
    .where('updated_at', '>', new Date(now.getTime() - 300_000))
    .executeTakeFirst();
  return Math.min(ttlSeconds, ended?.mean ?? ttlSeconds);
}

/** Seconds each live pass has left, soonest first. */
async function readActiveRemaining(
  db: Db,
  now: Date,
  settings: QueueSettings,
  options: { admissionIntervalMs: number },
  meanPassSeconds: number,
): Promise<number[]> {
  // A pass whose time is up holds its slot until the next admission round records its end:
  // counted as ending now, so a line whose slots turn over stays a full line (its measured
  // pace applies) instead of showing free slots that the next round has not freed yet.
  const roundsLate = new Date(now.getTime() - Math.max(2000, 3 * options.admissionIntervalMs));
  const active = await db
    .selectFrom('tokens')
    .select(['admitted_at', 'expires_at'])
    .where('status', '=', 'pass')
    .where('expires_at', '>', roundsLate)
    .orderBy('admitted_at')
    .limit(settings.maxActive + 1000)
    .execute();
  return active
    .map((pass) => {
      const expected = pass.admitted_at!.getTime() + meanPassSeconds * 1000;
      return Math.max(0, Math.min(expected, pass.expires_at!.getTime()) - now.getTime()) / 1000;
    })
    .sort((a, b) => a - b);
}

/**
 * The pace: admissions after the last 30 s window's first batch over the time since it
 * (counting that first batch too would put n batches in n - 1 gaps and overstate the pace).
 */
async function readRecentPace(db: Db, now: Date): Promise<LineSnapshot['recent']> {
  const { rows } = await sql<{ count: number; first: Date | null }>`
    WITH w AS (SELECT admitted_at FROM tokens WHERE admitted_at > ${new Date(now.getTime() - 30_000)})
    SELECT count(*) FILTER (WHERE admitted_at > (SELECT min(admitted_at) FROM w))::int AS count,
           min(admitted_at) AS first
    FROM w`.execute(db);
  const pace = rows[0] ?? { count: 0, first: null };
  return {
    count: pace.count,
    spanSeconds: pace.first ? (now.getTime() - pace.first.getTime()) / 1000 : 0,
  };
}

/**
 * The estimate for a token, with the line's snapshot read at most once a second (every
 * waiting poller shares it). Settings come from the stream `queue` itself.
 */
export function createWaitEstimator(deps: {
  db: Db;
  clock: () => Date;
  readSettings: () => Promise<QueueSettings>;
  ttlSeconds: number;
  admissionIntervalMs: number;
  /** Emits when the stream `queue` changed (the leader sees it at once). */
  queueChanged?: Observable<unknown>;
}) {
  let cached: { snapshot: Promise<LineSnapshot>; at: number; clockAt: number } | undefined;
  deps.queueChanged?.subscribe(() => (cached = undefined));
  const snapshot = () => {
    const now = deps.clock();
    const stale =
      !cached ||
      performance.now() - cached.at > 1000 ||
      Math.abs(now.getTime() - cached.clockAt) > 1000;
    if (stale) {
      const loading = deps.readSettings().then((settings) =>
        readLineSnapshot(deps.db, now, settings, {
          ttlSeconds: deps.ttlSeconds,
          admissionIntervalMs: deps.admissionIntervalMs,
        }),
      );
      cached = { snapshot: loading, at: performance.now(), clockAt: now.getTime() };
      loading.catch(() => (cached = undefined));
    }
    return cached!.snapshot;
  };
  const estimate = async (token: {
    status: string;
    position: number | null;
  }): Promise<number | null> => {
    if (token.status !== 'hold') return 0;
    if (token.position === null) return null;
    return estimateWaitSeconds(token.position, await snapshot());
  };
  /** The cached line, for callers that estimate many positions at once (the waiting room). */
  return Object.assign(estimate, { line: snapshot });
}
