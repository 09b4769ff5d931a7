import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { PaymentRecovery } from '../../src/commands/payment-recovery.js';
import { pay, type PaymentDeps } from '../../src/commands/pay.js';
import { projections } from '../../src/projections/index.js';
import { lockRebuilds, rebuildProjection } from '../../src/projections/rebuild.js';
import { verifyReadModels } from '../../src/projections/verify.js';
import { adminKey, createConcert, startTestApi, type TestApi } from '../support/api.js';
import { settleProjections } from '../support/system.js';

const run = promisify(execFile);
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const admin = { 'x-admin-key': adminKey };
const allTypes = [...new Set(projections.flatMap((projection) => projection.handles))];

async function cli(...args: string[]) {
  const env = { ...process.env, DATABASE_URL: api.system.databaseUrl, LOG_LEVEL: 'silent' };
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env,
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout + failed.stderr };
  }
}

describe('history and state', () => {
  it('answers what happened to a user’s money, including a refund, as of any moment', async () => {
    const userId = 'audited';
    const token = await api.admittedUser(userId);
    const concert = await createConcert(api, 1);
    await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: { 'x-queue-token': token },
      payload: { amount: 30_000 },
    });
    const held = await api.inject({
      method: 'POST',
      url: '/reservations',
      headers: { 'x-queue-token': token },
      payload: {
        concertTimeId: concert.dates[0]!.concertTimeId,
        seatId: concert.dates[0]!.seats[0]!.seatId,
      },
    });
    const { reservationId, seatId } = held.json<{ reservationId: string; seatId: string }>();
    // Recovery takes the seat back from a stalled payment, which then refunds its debit.
    const recovery = new PaymentRecovery({ ...api.system, recoverAfterMs: 0 });
    const stalled: PaymentDeps = {
      store: api.system.store,
      clock: api.system.clock,
      afterStep: async (step) => {
        if (step !== 'seatLocked') return;
        await settleProjections(api.system);
        await recovery.run();
      },
    };
    const tokenId = (
      await api.inject({
        method: 'GET',
        url: '/queue/tokens/current',
        headers: { 'x-queue-token': token },
      })
    ).json<{ token: string }>().token;
    await expect(pay(stalled, { userId, tokenId, reservationId, seatId })).rejects.toMatchObject({
      code: 'PAYMENT_ABORTED',
    });

    const history = await api.inject({
      method: 'GET',
      url: `/admin/streams/wallet-${userId}/events`,
      headers: admin,
    });
    const events = history.json<{ type: string; position: string }[]>();
    expect(events.map((event) => event.type)).toEqual([
      'WalletCharged',
      'WalletDebited',
      'WalletRefunded',
    ]);

    const stateAt = async (at: string) =>
      (
        await api.inject({
          method: 'GET',
          url: `/admin/streams/wallet-${userId}/state?at=${encodeURIComponent(at)}`,
          headers: admin,
        })
      ).json<{ revision: number; state: { balance: number } }>();
    expect((await stateAt(events[1]!.position)).state.balance).toBe(20_000);
    expect((await stateAt(events[2]!.position)).state.balance).toBe(30_000);
    expect((await stateAt('2000-01-01T00:00:00Z')).revision).toBe(-1);
    const now = await api.inject({
      method: 'GET',
      url: `/admin/streams/wallet-${userId}/state`,
      headers: admin,
    });
    expect(now.json()).toMatchObject({ revision: 2, state: { balance: 30_000 } });

    const seatHistory = await cli('history', `seat-${seatId}`);
    expect(seatHistory.code).toBe(0);
    expect(seatHistory.stdout).toMatch(
      /SeatCreated[\s\S]*SeatHeld[\s\S]*SeatPaymentStarted[\s\S]*SeatPaymentCancelled/,
    );
    const traced = await cli('trace', '--user', userId, '--json');
    const types = (JSON.parse(traced.stdout) as { type: string }[]).map((entry) => entry.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'TokenIssued',
        'TokenAdmitted',
        'WalletCharged',
        'SeatHeld',
        'PaymentStarted',
        'WalletDebited',
        'WalletRefunded',
        'PaymentFailed',
      ]),
    );
    // The same trace over HTTP for the operator page, in log order, without other users' events.
    const overHttp = await api.inject({
      method: 'GET',
      url: `/admin/users/${userId}/trace`,
      headers: admin,
    });
    expect(overHttp.statusCode).toBe(200);
    const trace = overHttp.json<{
      userId: string;
      events: { stream: string; type: string; position: string }[];
    }>();
    expect(trace.events.map((entry) => entry.type)).toEqual(types);
    expect(trace.events.some((entry) => entry.stream === `seat-${seatId}`)).toBe(true);
    expect(trace.events.map((entry) => entry.type)).not.toContain('SeatCreated');
    const unknownUser = await api.inject({
      method: 'GET',
      url: '/admin/users/nobody-at-all/trace',
      headers: admin,
    });
    expect(unknownUser.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(
      (await api.inject({ method: 'GET', url: `/admin/users/${userId}/trace` })).statusCode,
    ).toBe(401);

    const state = await cli('state', `wallet-${userId}`, '--at', events[1]!.position);
    expect(JSON.parse(state.stdout)).toMatchObject({ revision: 1, state: { balance: 20_000 } });
  });

  it('refuses bad arguments with usage and a non-zero exit', async () => {
    expect((await cli('history')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('seed', '--concerts', 'many', '--seats', '3')).code).toBe(2);
    expect((await cli('rebuild', 'no-such-projection')).code).toBe(2);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('rebuild [projection...]');
    // Five cold `tsx` start-ups in a row: on a shared, loaded machine they outlast the default.
  }, 300_000);
});

describe('verify', () => {
  it('finds nothing on a healthy system and a difference after a tampered row', async () => {
    const healthy = await cli('verify');
    expect(healthy).toMatchObject({ code: 0 });
    const changed =
      await sql`UPDATE wallets SET balance = balance + 1 WHERE user_id = 'audited'`.execute(
        api.system.db,
      );
    expect(changed.numAffectedRows).toBe(1n);
    const tampered = await cli('verify');
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain(
      'wallets: 1 row(s) only in the live model, 1 only in the replay',
    );
    await sql`UPDATE wallets SET balance = balance - 1 WHERE user_id = 'audited'`.execute(
      api.system.db,
    );
  });
});

describe('rebuild', () => {
  it('rebuilds while the API serves and commands arrive: queries never fail or see a half-built model', async () => {
    const concert = await createConcert(api, 40);
    const concertTimeId = concert.dates[0]!.concertTimeId;
    const buyer = await api.admittedUser('rebuild-buyer');
    let stop = false;
    const seen: number[] = [];
    const failures: number[] = [];
    const reader = (async () => {
      while (!stop) {
        const response = await api.inject({
          method: 'GET',
          url: `/concert-times/${concertTimeId}/seats`,
          headers: { 'x-queue-token': buyer },
        });
        if (response.statusCode !== 200) failures.push(response.statusCode);
        else seen.push(response.json<unknown[]>().length);
      }
    })();
    const writer = (async () => {
      for (const seat of concert.dates[0]!.seats.slice(0, 20)) {
        const held = await api.inject({
          method: 'POST',
          url: '/reservations',
          headers: { 'x-queue-token': buyer },
          payload: { concertTimeId, seatId: seat.seatId },
        });
        if (held.statusCode !== 201) failures.push(held.statusCode);
      }
    })();
    const seatsProjection = projections.find(
      (projection) => projection.name === 'available-seats',
    )!;
    const rebuilt = await rebuildProjection(api.system, seatsProjection);
    await writer;
    stop = true;
    await reader;

    expect(rebuilt.phase).toBe('done');
    expect(failures).toEqual([]);
    // Every answer was a whole model: 40 seats minus the holds so far, never an empty or partial table.
    for (const count of seen) expect(count).toBeGreaterThanOrEqual(20);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]!);
    expect(seen[seen.length - 1]).toBe(20);
    const differences = await verifyReadModels({
      ...api.system,
      projections,
      waitForProjections: (position) =>
        api.system.runner.waitFor({ position, eventTypes: allTypes }, 10_000),
    });
    expect(differences).toEqual([]);
  });

  it('starts a rebuild from the admin API and shows its progress', async () => {
    const started = await startRebuild('wallets');
    expect(started.statusCode).toBe(202);
    const deadline = Date.now() + 20_000;
    let rebuild: { phase: string } | undefined;
    while (Date.now() < deadline) {
      const listed = await api.inject({ method: 'GET', url: '/admin/projections', headers: admin });
      rebuild = listed
        .json<{ name: string; rebuild?: { phase: string } }[]>()
        .find((projection) => projection.name === 'wallets')?.rebuild;
      if (rebuild?.phase === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(rebuild).toMatchObject({ phase: 'done' });
    expect(
      (await api.inject({ method: 'POST', url: '/admin/projections/nope/rebuild', headers: admin }))
        .statusCode,
    ).toBe(404);
  });

  // Found by a black-box tester: two API processes both accepted a rebuild of one
  // projection, one then failed on a raw PostgreSQL error, and its phase stayed "replaying".
  it('refuses a rebuild that another process is running, from the API and the CLI', async () => {
    const elsewhere = (await lockRebuilds(api.system.pool, ['wallets']))!;
    expect(elsewhere).toBeDefined();
    try {
      const refused = await startRebuild('wallets');
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
      const cliRefused = await cli('rebuild', 'wallets');
      expect(cliRefused.code).toBe(6);
      expect(cliRefused.stdout.trim()).toMatch(
        /^a rebuild of wallets is running in another process/,
      );
    } finally {
      await elsewhere.release();
    }
    const started = await startRebuild('wallets');
    expect(started.statusCode).toBe(202);
    await untilRebuild('wallets', (phase) => phase === 'done');
  });

  it('shows a rebuild that failed as failed, with its error', async () => {
    // The swap needs the live table: without it the rebuild fails at its end.
    await sql`ALTER TABLE payments RENAME TO payments_away`.execute(api.system.db);
    try {
      const started = await startRebuild('payments');
      expect(started.statusCode).toBe(202);
      const rebuild = await untilRebuild(
        'payments',
        (phase) => phase === 'failed' || phase === 'done',
      );
      expect(rebuild?.phase).toBe('failed');
      expect(rebuild?.error).toMatch(/payments/);
    } finally {
      await sql`ALTER TABLE payments_away RENAME TO payments`.execute(api.system.db);
    }
  });
});

const startRebuild = (name: string) =>
  api.inject({ method: 'POST', url: `/admin/projections/${name}/rebuild`, headers: admin });

async function untilRebuild(name: string, done: (phase: string) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const listed = await api.inject({ method: 'GET', url: '/admin/projections', headers: admin });
    const rebuild = listed
      .json<{ name: string; rebuild?: { phase: string; error?: string } }[]>()
      .find((projection) => projection.name === name)?.rebuild;
    if ((rebuild && done(rebuild.phase)) || Date.now() > deadline) return rebuild;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
