import pg from 'pg';
import { createTestDatabase } from '../support/database.js';
import { callServer as call, spawnServer, type ServerProcess } from '../support/server-process.js';
import { runEntryPoint } from '../support/service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

const seatDays = (days: number, seats: number) => ({
  concertTime: new Date(Date.now() + days * 86_400_000).toISOString(),
  reservationStartTime: new Date(Date.now() - 3_600_000).toISOString(),
  seats: Array.from({ length: seats }, (_, i) => ({ seatNumber: i + 1, price: 10_000 })),
});

/**
 * Two API processes on one database: the standby answers seats and dates from its own
 * caches, and they never say what a 2xx on either process has made untrue.
 */
describe("a standby process's caches", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await database?.drop();
  });

  it('show holds and sell-outs right after the 2xx, and are cleared by a CLI rebuild', async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url,
      MAX_ACTIVE_TOKENS: '100',
      ADMISSION_INTERVAL_MS: '50',
    };
    const leader = await spawnServer(env);
    servers.push(leader);
    await until('the first process leads', 30_000, async () => {
      const response = await call(leader, 'GET', '/admin/projections', { admin: true });
      return response.json<{ status: string }[]>().every((row) => row.status === 'running');
    });
    const standby = await spawnServer(env);
    servers.push(standby);

    const created = await call(leader, 'POST', '/admin/concerts', {
      admin: true,
      body: { title: 'standby caches', dates: [seatDays(7, 2), seatDays(8, 2)] },
    });
    expect(created.status).toBe(201);
    const { concertId, dates } = created.json<{
      concertId: string;
      dates: { concertTimeId: string; seats: { seatId: string }[] }[];
    }>();
    const [first, second] = [dates[0]!, dates[1]!];

    const tokens: string[] = [];
    for (let user = 0; user < 2; user++) {
      const joined = await call(leader, 'POST', '/queue/tokens', { body: { userId: `u${user}` } });
      const token = joined.json<{ token: string }>().token;
      await until(`u${user} admitted`, 30_000, async () => {
        const current = await call(standby, 'GET', '/queue/tokens/current', { token });
        return current.json<{ status: string }>().status === 'pass';
      });
      tokens.push(token);
    }
    const emptySeats = async (server: ServerProcess, concertTimeId: string) => {
      const seats = await call(server, 'GET', `/concert-times/${concertTimeId}/seats`, {
        token: tokens[0]!,
      });
      expect(seats.status).toBe(200);
      return seats.json<{ seatId: string }[]>().map((seat) => seat.seatId);
    };
    const listedDates = async (server: ServerProcess) => {
      const listed = await call(server, 'GET', `/concerts/${concertId}/dates`, {
        token: tokens[0]!,
      });
      expect(listed.status).toBe(200);
      return listed.json<{ concertTimeId: string }[]>().map((date) => date.concertTimeId);
    };
    // The standby's caches are warm.
    expect(await emptySeats(standby, first.concertTimeId)).toHaveLength(2);
    expect(await listedDates(standby)).toEqual([first.concertTimeId, second.concertTimeId]);

    // One seat held on each process; the very next read on the other shows it.
    for (const [user, writer, reader] of [
      [0, leader, standby],
      [1, standby, leader],
    ] as const) {
      const seatId = first.seats[user]!.seatId;
      const held = await call(writer, 'POST', '/reservations', {
        token: tokens[user]!,
        body: { concertTimeId: first.concertTimeId, seatId },
      });
      expect(held.status).toBe(201);
      for (const server of [reader, writer])
        expect(await emptySeats(server, first.concertTimeId)).not.toContain(seatId);
    }
    // The first date sold out: it leaves the standby's cached dates at once.
    expect(await listedDates(standby)).toEqual([second.concertTimeId]);

    // The second date's seats went wrong by hand (why one rebuilds); the standby caches that.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(`UPDATE seats SET status = 'paid' WHERE concert_time_id = $1`, [
      second.concertTimeId,
    ]);
    await client.end();
    expect(await emptySeats(standby, second.concertTimeId)).toEqual([]);
    const rebuilt = await runEntryPoint('src/cli.ts', {
      env: { DATABASE_URL: database.url },
      args: ['rebuild', 'available-seats'],
    }).exit;
    expect(rebuilt.code).toBe(0);
    // A rebuild in a third process: the standby's next read no longer answers from its cache.
    expect(await emptySeats(standby, second.concertTimeId)).toHaveLength(2);
  }, 240_000);
});
