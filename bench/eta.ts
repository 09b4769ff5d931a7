import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext, ScenarioResult } from './scenarios.js';
import { percentile, startServer, type RunningServer } from './support.js';

interface Waiter {
  readonly token: string;
  readonly estimate: number | null;
  readonly position: number | null;
  readonly joinedAt: number;
  /** When the estimate was read (this machine's clock, as the server's): after the join. */
  readonly askedAt: number;
  admittedAt?: number;
}

interface Current {
  status: string;
  position: number | null;
  estimatedWaitSeconds: number | null;
  createdAt: string;
  updatedAt: string;
  expiresAt?: string;
}

const ttlSeconds = 3;

/**
 * When the token was admitted: its pass's expiry less the TTL. Not `updatedAt`: once the
 * pass has expired that is its expiry, and a waiter first polled after its pass ran out
 * (the steady line's joiners are polled only once every join is in) would count 3 s late.
 */
function admittedAt(seen: Current): number {
  return seen.expiresAt
    ? Date.parse(seen.expiresAt) - ttlSeconds * 1000
    : Date.parse(seen.updatedAt);
}

async function current(server: RunningServer, token: string): Promise<Current> {
  const response = await fetch(`${server.baseUrl}/queue/tokens/current`, {
    headers: { 'x-queue-token': token },
  });
  return (await response.json()) as Current;
}

/** Joins, then reads the estimate the user is shown right after joining. */
async function join(server: RunningServer, userId: string): Promise<Waiter> {
  const response = await fetch(`${server.baseUrl}/queue/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const { token } = (await response.json()) as { token: string };
  const seen = await current(server, token);
  return {
    token,
    estimate: seen.estimatedWaitSeconds,
    position: seen.position,
    joinedAt: Date.parse(seen.createdAt),
    askedAt: Date.now(),
    ...(seen.status === 'pass' ? { admittedAt: admittedAt(seen) } : {}),
  };
}

/** Polls every waiter until admitted; the admission time is the server's. */
async function awaitAdmissions(server: RunningServer, waiters: Waiter[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (waiters.some((waiter) => waiter.admittedAt === undefined)) {
    if (Date.now() > deadline) throw new Error('not every waiter was admitted in time');
    await Promise.all(
      waiters
        .filter((waiter) => waiter.admittedAt === undefined)
        .map(async (waiter) => {
          const seen = await current(server, waiter.token);
          if (seen.status !== 'hold') waiter.admittedAt = admittedAt(seen);
        }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * |estimate / real wait - 1| per user; a real wait under 1 s counts as 1 s (the estimate's
 * unit). The real wait runs from the join (the figure), or from when the estimate was read.
 */
function errors(waiters: readonly Waiter[], from: 'joinedAt' | 'askedAt' = 'joinedAt'): number[] {
  return waiters
    .map((waiter) => {
      const real = Math.max(1, (waiter.admittedAt! - waiter[from]) / 1000);
      return Math.abs((waiter.estimate ?? Number.POSITIVE_INFINITY) / real - 1);
    })
    .sort((a, b) => a - b);
}

/** Under load a join and its read take seconds: the error counted from the read too. */
function askedLate(name: string, waiters: readonly Waiter[]): string {
  const late = waiters.filter((waiter) => waiter.askedAt - waiter.joinedAt > 1000).length;
  const sorted = errors(waiters, 'askedAt');
  const median = (percentile(sorted, 50) * 100).toFixed(1);
  const p90 = (percentile(sorted, 90) * 100).toFixed(1);
  return `${name}: ${late} of ${waiters.length} read their estimate over 1 s after joining; counted from the read: median ${median}%, p90 ${p90}%`;
}

function describe(name: string, waiters: readonly Waiter[]) {
  // BENCH_ETA_DUMP=dir writes every user's position, estimate and real wait, to study.
  if (process.env.BENCH_ETA_DUMP)
    writeFileSync(
      path.join(process.env.BENCH_ETA_DUMP, `${name.replace(/\W/g, '-')}.json`),
      JSON.stringify(waiters.map(({ token: _token, ...waiter }) => waiter)),
    );
  const sorted = errors(waiters);
  const median = percentile(sorted, 50) * 100;
  const p90 = percentile(sorted, 90) * 100;
  const sample = [...waiters]
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
    .filter((_, i, all) => i === 5 || i === Math.floor(all.length / 2) || i === all.length - 1)
    .map(
      (waiter) =>
        `position ${waiter.position}: told ${waiter.estimate} s, admitted after ${((waiter.admittedAt! - waiter.joinedAt) / 1000).toFixed(1)} s`,
    );
  return {
    figures: [
      {
        name: `${name}: median |estimate/real - 1| (${waiters.length} users)`,
        value: Number(median.toFixed(1)),
        unit: '%',
        target: '<= 25',
        met: median <= 25,
      },
      {
        name: `${name}: p90 |estimate/real - 1|`,
        value: Number(p90.toFixed(1)),
        unit: '%',
        target: '<= 50',
        met: p90 <= 50,
      },
    ],
    notes: [`${name}: ${sample.join('; ')}`, askedLate(name, waiters)],
  };
}

const lineEnv = {
  MAX_ACTIVE_TOKENS: '5',
  TOKEN_TTL_SECONDS: String(ttlSeconds),
  ADMISSION_INTERVAL_MS: '1000',
};

/**
 * Honest estimates (issue 15): 5 slots, a 3 s pass. A fresh line (everyone joins at
 * once in its first second) and a steady line (one join every 0.6 s for a minute,
 * measured after its first 20 s). Each user's estimate at join against the real wait.
 */
export async function eta(context: BenchContext): Promise<ScenarioResult> {
  const fresh = context.smoke ? 15 : 70;
  const steadySeconds = context.smoke ? 6 : 60;
  const freshServer = await startServer(await context.createDatabase(), lineEnv);
  let freshResult;
  try {
    const waiters = await Promise.all(
      Array.from({ length: fresh }, (_, i) => join(freshServer, `fresh-${i}`)),
    );
    await awaitAdmissions(freshServer, waiters, 300_000);
    freshResult = describe('fresh line', waiters);
  } finally {
    await freshServer.stop();
  }

  const steadyServer = await startServer(await context.createDatabase(), lineEnv);
  try {
    const joining: Promise<Waiter>[] = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < steadySeconds * 1000; i++) {
      joining.push(join(steadyServer, `steady-${i}`));
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    const waiters = await Promise.all(joining);
    await awaitAdmissions(steadyServer, waiters, 300_000);
    const measured = waiters.filter(
      (waiter) => waiter.joinedAt - started >= (steadySeconds / 3) * 1000,
    );
    const steadyResult = describe('steady line', measured);
    return {
      scenario: 'eta',
      figures: [...freshResult.figures, ...steadyResult.figures],
      notes: [
        ...freshResult.notes,
        ...steadyResult.notes,
        'before (issue 15, main): median estimate at join about 94x the real wait in the fresh line',
      ],
    };
  } finally {
    await steadyServer.stop();
  }
}
