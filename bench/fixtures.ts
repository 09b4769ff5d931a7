import { systemClock } from '../src/commands/clock.js';
import { scheduleConcert } from '../src/commands/schedule-concert.js';
import { loadConfig } from '../src/config.js';
import { startSystem } from '../src/system.js';
import type { BenchContext } from './scenarios.js';
import { drive, until, type RunningServer } from './support.js';

export const size = (context: BenchContext, full: number, smoke: number) =>
  context.smoke ? smoke : full;
export const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/** Correctness checks inside a scenario fail it loudly; timing never does. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`benchmark check failed: ${message}`);
}

export async function admittedTokens(
  server: RunningServer,
  users: readonly string[],
  concurrency = 32,
): Promise<string[]> {
  const tokens: string[] = new Array<string>(users.length);
  const issued = await drive(
    server.baseUrl,
    { concurrency, total: users.length, keepBodies: true },
    (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: users[i] } }),
  );
  check(
    issued.bodies.every((entry) => entry.status === 201),
    'every user got a new token',
  );
  issued.bodies.forEach(
    (entry, i) => (tokens[i] = (JSON.parse(entry.body) as { token: string }).token),
  );
  const last = tokens[tokens.length - 1]!;
  await until(
    async () => {
      const response = await fetch(`${server.baseUrl}/queue/tokens/current`, {
        headers: { 'x-queue-token': last },
      });
      return ((await response.json()) as { status: string }).status === 'pass';
    },
    120_000,
    'admission of the benchmark users',
  );
  return tokens;
}

/** The system in the bench process, writing only: no projections, no background processes. */
export function startWriteOnlySystem(databaseUrl: string, env: Record<string, string> = {}) {
  return startSystem({
    config: loadConfig({ ...env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }),
    clock: systemClock,
    projections: false,
    processes: false,
  });
}

/**
 * Schedules the benchmark concert. `serverEnv` is the environment the scenario's server
 * will run with: the seeding system is the first to start on the database, so it records
 * the queue's first settings (a cap of 2,000 given only to the server came too late, and
 * the contention scenario waited forever behind a cap of 100).
 */
export async function seedSeats(
  databaseUrl: string,
  dates: number,
  seatsPerDate: number,
  serverEnv: Record<string, string>,
) {
  const system = await startWriteOnlySystem(databaseUrl, { ...serverEnv, DB_POOL_SIZE: '20' });
  try {
    const now = Date.now();
    const { concert } = await scheduleConcert(system, {
      title: 'Benchmark concert',
      dates: Array.from({ length: dates }, (_, date) => ({
        concertTime: new Date(now + (date + 7) * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: Array.from({ length: seatsPerDate }, (_, seat) => ({
          seatNumber: seat + 1,
          price: 50_000 + (seat % 3) * 30_000,
        })),
      })),
    });
    return concert;
  } finally {
    await system.close();
  }
}
