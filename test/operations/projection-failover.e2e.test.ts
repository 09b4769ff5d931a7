import pg from 'pg';
import { createTestDatabase } from '../support/database.js';
import { callServer as call, spawnServer, type ServerProcess } from '../support/server-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value, or fails after `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** SIGKILL the server process itself (spawnServer runs node directly, no wrapper). */
function killHard(server: ServerProcess): void {
  server.child.kill('SIGKILL');
}

let lastStatuses = '';
const leading = async (server: ServerProcess) => {
  const response = await call(server, 'GET', '/admin/projections', { admin: true });
  const statuses = response.json<{ status: string }[]>().map((row) => row.status);
  lastStatuses = `${response.status} ${statuses.join(',')}`;
  return statuses.every((status) => status === 'running') ? true : undefined;
};

/**
 * Two API processes on one database (issue 9): the projection leader is SIGKILLed in the
 * middle of a load of holds; the standby takes over, no checkpoint ever moves backwards,
 * and every 2xx command, on either process, is visible to the next read on either.
 */
describe('projection failover between two API processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const servers: ServerProcess[] = [];
  const sampler = { stop: false, samples: 0, backwards: [] as string[] };
  let sampling: Promise<void> | undefined;
  afterAll(async () => {
    sampler.stop = true;
    await sampling;
    for (const server of servers) await server.stop();
    await database?.drop();
  });

  it('the standby takes over, checkpoints never go back, reads see every write', async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      MAX_ACTIVE_TOKENS: '1000',
      ADMISSION_INTERVAL_MS: '100',
    };
    const leader = await spawnServer(env);
    servers.push(leader);
    await until('the first process leads', 30_000, () => leading(leader));
    const standby = await spawnServer(env);
    servers.push(standby);

    // Sample the persisted checkpoints throughout: none may ever decrease.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const last = new Map<string, bigint>();
    sampling = (async () => {
      while (!sampler.stop) {
        const { rows } = await client.query<{ name: string; commit_position: string }>(
          'SELECT name, commit_position FROM projection_checkpoints',
        );
        for (const row of rows) {
          const position = BigInt(row.commit_position);
          const before = last.get(row.name);
          if (before !== undefined && position < before)
            sampler.backwards.push(`${row.name}: ${before} -> ${position}`);
          last.set(row.name, position);
        }
        sampler.samples++;
        await sleep(25);
      }
      await client.end();
    })();

    const created = await call(leader, 'POST', '/admin/concerts', {
      admin: true,
      body: {
        title: 'failover',
        dates: [
          {
            concertTime: new Date(Date.now() + 7 * 86_400_000).toISOString(),
            reservationStartTime: new Date(Date.now() - 3_600_000).toISOString(),
            seats: Array.from({ length: 12 }, (_, i) => ({ seatNumber: i + 1, price: 10_000 })),
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    const date = created.json<{
      dates: { concertTimeId: string; seats: { seatId: string }[] }[];
    }>().dates[0]!;

    // Twelve admitted users, each joining through one process or the other.
    const tokens: string[] = [];
    for (let user = 0; user < 12; user++) {
      const server = servers[user % 2]!;
      const joined = await call(server, 'POST', '/queue/tokens', { body: { userId: `u${user}` } });
      expect(joined.status).toBe(201);
      const token = joined.json<{ token: string }>().token;
      await until(`u${user} admitted`, 30_000, async () => {
        const current = await call(server, 'GET', '/queue/tokens/current', { token });
        return current.json<{ status: string }>().status === 'pass' ? true : undefined;
      });
      tokens.push(token);
    }

    // Holds alternate between the processes; the leader dies after the fourth.
    let killedAt: number | undefined;
    for (let user = 0; user < 12; user++) {
      if (user === 4) {
        killHard(leader);
        killedAt = Date.now();
      }
      const alive = killedAt ? [standby] : servers;
      const writer = alive[user % alive.length]!;
      const seatId = date.seats[user]!.seatId;
      const held = await call(writer, 'POST', '/reservations', {
        token: tokens[user]!,
        body: { concertTimeId: date.concertTimeId, seatId },
      });
      expect({ user, status: held.status, behind: held.behind }).toEqual({
        user,
        status: 201,
        behind: null,
      });
      // The very next read, on every live process, shows the hold.
      for (const reader of alive) {
        const seats = await call(reader, 'GET', `/concert-times/${date.concertTimeId}/seats`, {
          token: tokens[user]!,
        });
        expect(seats.status).toBe(200);
        const empty = seats.json<{ seatId: string }[]>().map((seat) => seat.seatId);
        expect({ user, held: empty.includes(seatId) }).toEqual({ user, held: false });
      }
    }

    // The standby leads now; it took over within a few seconds of the kill.
    await until('the standby leads', 15_000, () => leading(standby)).catch((error: Error) => {
      throw new Error(`${error.message}; last statuses ${lastStatuses}\n${standby.output()}`);
    });
    const takeover = Date.now() - killedAt!;
    expect(takeover).toBeLessThan(15_000);
    expect(standby.exited()).toBe(false);
    sampler.stop = true;
    await sampling;
    expect(sampler.samples).toBeGreaterThan(10);
    expect(sampler.backwards).toEqual([]);
  }, 240_000);
});
