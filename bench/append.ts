import { randomUUID } from 'node:crypto';
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { PostgresEventStore } from '../src/events/store/postgres/store.js';
import { createPool } from '../src/infrastructure/pool.js';
import type { BenchContext, ScenarioResult } from './scenarios.js';
import { cpuMeter } from './support.js';
import { transactionCounter } from './transactions.js';

const concurrency = 32;
const round = (value: number) => Math.round(value);
const cpuMs = (value: number) => Math.round(value * 1000) / 1000;

/** `total` calls of `work`, `concurrency` at a time; the rate per second. */
async function timed(total: number, work: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await work(next++);
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

/**
 * Warm-up, then the measured run with the transactions it cost. `append(prefix)(i)`
 * appends one event to a new stream; the same for our store and Emmett's.
 */
async function measureAppends(
  databaseUrl: string,
  total: number,
  smoke: boolean,
  append: (prefix: string) => (i: number) => Promise<unknown>,
) {
  await timed(Math.min(total, 2000), append('warm'));
  const xacts = await transactionCounter(databaseUrl, smoke);
  const cpu = cpuMeter();
  const rate = await timed(total, append('bench'));
  const cpuPerAppend = cpu.perOperation(total);
  return { rate, transactions: await xacts.perOperation(total), cpu: cpuPerAppend };
}

const seatHeld = () => ({
  seatId: randomUUID(),
  userId: 'benchmark-user',
  price: 50_000,
  heldAt: new Date().toISOString(),
});

/** Our store's single-event appends/s to new streams: warm-up, then the measured run. */
async function ourAppends(databaseUrl: string, total: number, smoke: boolean) {
  const pool = createPool(databaseUrl, concurrency + 4);
  const store = await PostgresEventStore.create(pool);
  const data = seatHeld();
  const append = (prefix: string) => (i: number) =>
    store.appendToStream(`${prefix}-${i}-${randomUUID()}`, [{ type: 'SeatHeld', data }], {
      expectedRevision: 'no_stream',
    });
  try {
    return await measureAppends(databaseUrl, total, smoke, append);
  } finally {
    await store.close();
    await pool.end();
  }
}

/** Plain INSERTs into a table shaped like ours, on a pool of the same size. */
async function plainInserts(databaseUrl: string, total: number) {
  const pool = createPool(databaseUrl, concurrency + 4);
  await pool.query(`CREATE TABLE baseline_events (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE, stream_name text NOT NULL,
    stream_revision bigint NOT NULL, event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_name, stream_revision))`);
  const data = seatHeld();
  const insert = (prefix: string) => (i: number) =>
    pool.query(
      'INSERT INTO baseline_events (event_id, stream_name, stream_revision, event_type, data, metadata) VALUES ($1, $2, 0, $3, $4, $5)',
      [randomUUID(), `${prefix}-${i}`, 'SeatHeld', data, {}],
    );
  try {
    await timed(Math.min(total, 2000), insert('warm'));
    return await timed(total, insert('bench'));
  } finally {
    await pool.end();
  }
}

/**
 * Emmett's PostgreSQL event store as its documentation shows (getPostgreSQLEventStore,
 * appendToStream with STREAM_DOES_NOT_EXIST), on its own database of the same server,
 * given a pg pool of the same size as ours.
 */
async function emmettAppends(databaseUrl: string, total: number, smoke: boolean) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency + 4 });
  const store = getPostgreSQLEventStore(databaseUrl, {
    connectionOptions: { pool, pooled: true },
  });
  const data = seatHeld();
  const append = (prefix: string) => (i: number) =>
    store.appendToStream(`${prefix}-${i}-${randomUUID()}`, [{ type: 'SeatHeld', data }], {
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    });
  try {
    return await measureAppends(databaseUrl, total, smoke, append);
  } finally {
    await store.close();
    await pool.end();
  }
}

let measured: number | undefined;

/**
 * The `append` rate of this run, the baseline of the hold and join targets: the append
 * scenario's figure when it ran, else measured here the same way.
 */
export async function appendRateOfThisRun(context: BenchContext): Promise<number> {
  measured ??= (
    await ourAppends(await context.createDatabase(), context.smoke ? 400 : 20_000, context.smoke)
  ).rate;
  return measured;
}

export async function appendScenario(context: BenchContext): Promise<ScenarioResult> {
  const total = context.smoke ? 400 : 20_000;
  const ours = await ourAppends(await context.createDatabase(), total, context.smoke);
  measured = ours.rate;
  const inserts = await plainInserts(await context.createDatabase(), total);
  const emmett = await emmettAppends(await context.createDatabase(), total, context.smoke);
  return {
    scenario: 'append',
    figures: [
      {
        name: `appends/s (${concurrency} concurrent, expected revision) vs plain INSERT`,
        value: round(ours.rate),
        unit: '/s',
        baseline: round(inserts),
        target: '>= 0.5 x plain INSERT',
        met: ours.rate >= 0.5 * inserts,
      },
      {
        name: `appends/s vs Emmett's PostgreSQL store (0.42.0, same server, ${concurrency} concurrent)`,
        value: round(ours.rate),
        unit: '/s',
        baseline: round(emmett.rate),
        target: '>= 2 x Emmett',
        met: ours.rate >= 2 * emmett.rate,
      },
      { name: 'PostgreSQL transactions per append', value: ours.transactions, unit: '' },
      { name: 'PostgreSQL transactions per Emmett append', value: emmett.transactions, unit: '' },
      {
        name: "PostgreSQL CPU per append vs Emmett's",
        value: cpuMs(ours.cpu.postgres),
        unit: 'ms',
        baseline: cpuMs(emmett.cpu.postgres),
      },
      {
        name: "client CPU per append vs Emmett's",
        value: cpuMs(ours.cpu.load),
        unit: 'ms',
        baseline: cpuMs(emmett.cpu.load),
      },
    ],
    notes: [
      `${total} single-event appends to distinct new streams for each store, after 2000 warm-up appends; plain INSERTs into an equivalent table`,
    ],
  };
}
