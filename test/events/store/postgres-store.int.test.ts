import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import { PostgresEventStore } from '../../../src/events/store/postgres/store.js';
import { headPositionSql } from '../../../src/events/store/postgres/rows.js';
import { createPool } from '../../../src/infrastructure/pool.js';
import { START, comparePositions } from '../../../src/events/store/port.js';
import { createTestDatabase } from '../../support/database.js';
import { eventStoreContract } from './contract.js';

let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let pool: pg.Pool;

describe('PostgreSQL event store', () => {
  eventStoreContract(
    async (options = {}) => {
      // The first call makes the database; later ones are more stores on the same log.
      if (!database) {
        database = await createTestDatabase();
        pool = createPool(database.url, 40);
      }
      return PostgresEventStore.create(pool, options);
    },
    async () => {
      await pool.end();
      await database!.drop();
    },
  );

  // A rebuild's swap reads up to the live checkpoint while writers queue behind its table
  // locks; an unbounded read would wait (30 s) for their open transactions and the swap's
  // own transaction would be killed as idle. Bounded, the read waits for nothing newer.
  it('reads up to a known committed position without waiting for a newer open transaction', async () => {
    const store = await PostgresEventStore.create(pool);
    const kind = `bound${randomUUID().slice(0, 8)}-`;
    const done = await store.appendToStream(`${kind}a`, [
      { id: randomUUID(), type: 'Done', data: {} },
    ]);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT * FROM es_append($1, $2, $3)', [
        `${kind}b`,
        'any',
        JSON.stringify([{ id: randomUUID(), type: 'Open', data: {} }]),
      ]);
      await store.appendToStream(`${kind}c`, [{ id: randomUUID(), type: 'Later', data: {} }]);
      // Still inside the open transaction: this must answer now (the test's own timeout
      // is below the store's 30 s wait).
      const read = await store.readAll({
        toPosition: done.position,
        filter: { streamPrefixes: [kind] },
      });
      expect(read.map((event) => event.type)).toEqual(['Done']);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }, 20_000);

  it('never shows a subscriber an event that commits late out of order, nor a rolled-back one', async () => {
    const store = await PostgresEventStore.create(pool);
    const kind = `gap${randomUUID().slice(0, 8)}-`;
    const writers = 24;
    const perWriter = 8;
    const committed = new Set<string>();
    const rolledBack = new Set<string>();

    // Each append runs in an explicit transaction that sleeps a random time before it
    // commits or rolls back, so sequence numbers are taken in one order and become
    // visible in another: exactly what loses events under a naive `seq > last` poller.
    const writer = async (w: number) => {
      const client = await pool.connect();
      try {
        for (let i = 0; i < perWriter; i++) {
          const id = randomUUID();
          const rollback = Math.random() < 0.25;
          await client.query('BEGIN');
          await client.query('SELECT pg_sleep($1)', [Math.random() * 0.02]);
          await client.query('SELECT * FROM es_append($1, $2, $3)', [
            `${kind}${w % 5}`,
            'any',
            JSON.stringify([{ id, type: 'Delayed', data: { w, i } }]),
          ]);
          await client.query('SELECT pg_sleep($1)', [Math.random() * 0.05]);
          if (rollback) {
            await client.query('ROLLBACK');
            rolledBack.add(id);
          } else {
            await client.query('COMMIT');
            committed.add(id);
          }
        }
      } finally {
        client.release();
      }
    };

    const seen: string[] = [];
    const subscription = store
      .subscribeToAll({ filter: { streamPrefixes: [kind] } })
      .subscribe((event) => {
        seen.push(event.id);
      });
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    // The last commits reach the subscriber through polling or notification.
    const deadline = Date.now() + 10_000;
    while (seen.length < committed.size && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    subscription.unsubscribe();

    expect(seen).toHaveLength(committed.size);
    expect(new Set(seen)).toEqual(committed);
    expect(seen.filter((id) => rolledBack.has(id))).toEqual([]);
    // And a fresh reader of the whole log sees the same order.
    const replay = await store.readAll({ filter: { streamPrefixes: [kind] }, maxCount: 10_000 });
    expect(replay.map((e) => e.id)).toEqual(seen);
    await store.close();
  });

  it('wakes a subscriber in another process through NOTIFY', async () => {
    const otherPool = createPool(database!.url, 4);
    const writer = await PostgresEventStore.create(otherPool);
    // A long poll interval proves the wake-up came from the notification, not the poll.
    const reader = await PostgresEventStore.create(pool, { pollIntervalMs: 60_000 });
    const kind = `notify${randomUUID().slice(0, 8)}-`;
    const received = firstValueFrom(
      reader
        .subscribeToAll({ filter: { streamPrefixes: [kind] } })
        .pipe(take(1), timeout(5000), toArray()),
    );
    await new Promise((r) => setTimeout(r, 100));
    const appended = await writer.appendToStream(`${kind}1`, [{ type: 'Ping', data: {} }]);
    const [event] = await received;
    expect(comparePositions(event!.position, appended.position)).toBe(0);
    await writer.close();
    await reader.close();
    await otherPool.end();
  });

  it('does not wake its own subscribers again when its NOTIFY echoes back on its LISTEN', async () => {
    // Each log read is counted: the echo of the store's own NOTIFY (which carries no
    // event types) used to wake every subscriber for a read, whatever types it reads.
    const countedPool = createPool(database!.url, 4);
    let logReads = 0;
    const query = countedPool.query.bind(countedPool) as (...args: unknown[]) => unknown;
    (countedPool as unknown as { query: (...args: unknown[]) => unknown }).query = (
      ...args: unknown[]
    ) => {
      if (typeof args[0] === 'string' && args[0].includes('pg_snapshot_xmin')) logReads++;
      return query(...args);
    };
    const store = await PostgresEventStore.create(countedPool, { pollIntervalMs: 60_000 });
    const kind = `echo${randomUUID().slice(0, 8)}-`;
    const wanted = firstValueFrom(
      store
        .subscribeToAll({ filter: { eventTypes: [`${kind}Wanted`] } })
        .pipe(take(1), timeout(5000), toArray()),
    );
    await new Promise((r) => setTimeout(r, 200));
    const readsBefore = logReads;
    for (let i = 0; i < 10; i++)
      await store.appendToStream(`${kind}${i}`, [{ type: `${kind}Other`, data: {} }]);
    await new Promise((r) => setTimeout(r, 500));
    expect(logReads).toBe(readsBefore);
    // An append of a type it reads still wakes it at once.
    const appended = await store.appendToStream(`${kind}w`, [{ type: `${kind}Wanted`, data: {} }]);
    const [event] = await wanted;
    expect(comparePositions(event!.position, appended.position)).toBe(0);
    await store.close();
    await countedPool.end();
  });

  it('commits a multi-stream append all or none, and a subscriber gets it in one batch', async () => {
    const store = await PostgresEventStore.create(pool);
    const [a, b] = [`many-${randomUUID()}`, `many-${randomUUID()}`];
    await store.appendToStream(b, [{ type: 'ManyFirst', data: {} }]);
    await expect(
      store.appendToStreams([
        { streamName: a, events: [{ type: 'ManyA', data: {} }], expectedRevision: 'no_stream' },
        { streamName: b, events: [{ type: 'ManyB', data: {} }], expectedRevision: 'no_stream' },
      ]),
    ).rejects.toThrow();
    expect(await store.readStream(a)).toEqual([]);

    const from = await store.headPosition();
    const batches = store.streamAll({
      fromPosition: from,
      filter: { eventTypes: ['ManyA', 'ManyB'] },
    });
    const [first, second] = await store.appendToStreams([
      { streamName: a, events: [{ type: 'ManyA', data: {} }], expectedRevision: 'no_stream' },
      { streamName: b, events: [{ type: 'ManyB', data: {} }], expectedRevision: 0n },
    ]);
    expect(first!.position.commit).toBe(second!.position.commit);
    for await (const batch of batches) {
      if (batch.events.length === 0) continue;
      expect(batch.events.map((event) => event.type)).toEqual(['ManyA', 'ManyB']);
      break;
    }
    await store.close();
  });

  it('reports the position of the last committed event as the head', async () => {
    const store = await PostgresEventStore.create(pool);
    const appended = await store.appendToStream(`head-${randomUUID()}`, [
      { type: 'Head', data: {} },
    ]);
    expect(comparePositions(await store.headPosition(), appended.position)).toBeGreaterThanOrEqual(
      0,
    );
    await store.close();
  });

  it('finds the head of some event types without reading the events of the others, statistics or not', async () => {
    // Its own log: 20,000 events of another type follow the one wanted, written in bulk so
    // that the table has no planner statistics yet (as during an on-sale's first minutes).
    const own = await createTestDatabase();
    const ownPool = createPool(own.url, 4);
    try {
      const store = await PostgresEventStore.create(ownPool);
      const wanted = await store.appendToStream(`rare-${randomUUID()}`, [
        { type: 'Rare', data: {} },
      ]);
      await ownPool.query(
        `INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data)
         SELECT gen_random_uuid(), 'other-' || g, 0, 'Other', '{}' FROM generate_series(1, 20000) g`,
      );
      const types = ['Rare', 'Missing'];
      expect(await store.headPosition({ eventTypes: types })).toEqual(wanted.position);
      expect(await store.headPosition({ eventTypes: ['Missing'] })).toEqual(START);
      // The statement the store sends, as PostgreSQL runs it: every row any scan touched.
      const { rows } = await ownPool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${headPositionSql(true)}`,
        [types],
      );
      expect(rowsTouched(rows[0]!['QUERY PLAN'][0].Plan)).toBeLessThan(100);
      await store.close();
    } finally {
      await ownPool.end();
      await own.drop();
    }
  });
});

interface PlanNode {
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

function rowsTouched(node: PlanNode): number {
  const own = (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsTouched(child), 0);
}
