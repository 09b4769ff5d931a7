import { appendRateOfThisRun } from './append.js';
import { bareServer } from './queries.js';
import { check, round, size } from './fixtures.js';
import type { BenchContext, ScenarioResult } from './scenarios.js';
import { cpuMeter, drive, startServer } from './support.js';
import { transactionCounter } from './transactions.js';

/** 100,000 new users join at 64 connections; then a first lookup of 20,000 of their tokens. */
export async function queue(context: BenchContext): Promise<ScenarioResult> {
  // BENCH_QUEUE_USERS=10000 runs a shorter line (the figure is at 100,000).
  const users = size(context, Number(process.env.BENCH_QUEUE_USERS ?? 100_000), 500);
  const lookups = size(context, 20_000, 200);
  const appendRate = await appendRateOfThisRun(context);
  const databaseUrl = await context.createDatabase();
  const server = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: '100',
    ADMISSION_INTERVAL_MS: '1000',
  });
  try {
    const xacts = await transactionCounter(databaseUrl, context.smoke);
    const cpu = cpuMeter(server);
    const joined = await drive(
      server.baseUrl,
      { concurrency: 64, total: users, keepBodies: true, timeLimitMs: 600_000 },
      (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: `queued-${i}` } }),
    );
    check(
      (joined.statuses[201] ?? 0) === joined.requests,
      `every user joined (${JSON.stringify(joined.statuses)})`,
    );
    const cpuPerJoin = cpu.perOperation(joined.requests);
    const perJoin = await xacts.perOperation(joined.requests);
    const tokens = joined.bodies.map(
      (entry) => (JSON.parse(entry.body) as { token: string }).token,
    );
    const waiting = tokens.slice(Math.min(1000, tokens.length / 2));
    // 7919 is prime and shares no factor with the count: each token is looked up once (cold).
    const pick = (i: number) => waiting[(i * 7919) % waiting.length]!;
    check(
      new Set(Array.from({ length: Math.min(lookups, waiting.length) }, (_, i) => pick(i))).size ===
        Math.min(lookups, waiting.length),
      'every lookup is the first of its token',
    );
    const lookupXacts = await transactionCounter(databaseUrl, context.smoke);
    const lookup = await drive(
      server.baseUrl,
      { concurrency: 64, total: Math.min(lookups, waiting.length) },
      (i) => ({
        method: 'GET',
        path: '/queue/tokens/current',
        headers: { 'x-queue-token': pick(i) },
      }),
    );
    check(
      (lookup.statuses[200] ?? 0) === lookup.requests,
      `every lookup answered 200 (${JSON.stringify(lookup.statuses)})`,
    );
    const perLookup = await lookupXacts.perOperation(lookup.requests);
    // The floor of a p99 at 64 connections on this machine: a bare Fastify route returning
    // a lookup's bytes, driven the same way (a warm-up, then as many requests).
    const sample = await fetch(`${server.baseUrl}/queue/tokens/current`, {
      headers: { 'x-queue-token': pick(0) },
    });
    const bare = await bareServer(await sample.text());
    let bareLookup: Awaited<ReturnType<typeof drive>>;
    try {
      const call = () => ({ method: 'GET' as const, path: '/constant' });
      await drive(bare.baseUrl, { concurrency: 64, total: lookup.requests / 10 }, call);
      bareLookup = await drive(bare.baseUrl, { concurrency: 64, total: lookup.requests }, call);
    } finally {
      bare.stop();
    }
    const rss = server.rssBytes() / 1024 / 1024;
    return {
      scenario: 'queue',
      figures: [
        {
          name: `tokens issued/s (${users} new users, 64 connections) vs this run's append rate`,
          value: round(joined.perSecond),
          unit: '/s',
          baseline: round(appendRate),
          target: '>= 0.5 x append',
          met: joined.perSecond >= 0.5 * appendRate,
        },
        { name: 'join p99', value: round(joined.p99Ms, 1), unit: 'ms' },
        {
          name: `position lookup p99, cold (first lookup of each of ${lookup.requests} tokens, ${users} waiting)`,
          value: round(lookup.p99Ms, 1),
          unit: 'ms',
          baseline: round(bareLookup.p99Ms, 1),
          target: '< 10',
          met: lookup.p99Ms < 10,
        },
        {
          name: 'server RSS after',
          value: round(rss),
          unit: 'MB',
          target: '< 300',
          met: rss < 300,
        },
        { name: 'PostgreSQL transactions per join', value: perJoin, unit: '' },
        {
          name: 'API CPU per join (projections included)',
          value: round(cpuPerJoin.api, 2),
          unit: 'ms',
        },
        { name: 'PostgreSQL CPU per join', value: round(cpuPerJoin.postgres, 2), unit: 'ms' },
        { name: 'load generator CPU per join', value: round(cpuPerJoin.load, 2), unit: 'ms' },
        { name: 'PostgreSQL transactions per lookup', value: perLookup, unit: '' },
      ],
      notes: [
        `join p50 ${round(joined.p50Ms, 1)} ms; lookups at 64 connections, lookup p50 ${round(lookup.p50Ms, 1)} ms at ${round(lookup.perSecond)}/s; baseline: a bare Fastify route returning a lookup's bytes at 64 connections, p50 ${round(bareLookup.p50Ms, 1)} ms at ${round(bareLookup.perSecond)}/s`,
      ],
    };
  } finally {
    await server.stop();
  }
}
