import { randomUUID } from 'node:crypto';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  START,
  WrongExpectedVersionError,
  comparePositions,
  type EventStore,
  type LogBatch,
  type Position,
} from '../../../src/events/store/port.js';

export interface ContractStoreOptions {
  /** Events per read of the log, so a test can read across page boundaries. */
  readonly readPageSize?: number;
}

/**
 * The event store contract: every adapter runs this suite. `open` gives a store on an
 * empty or shared log (it is called again for a second store on the same log: a restart,
 * or a small read page); streams use fresh names so suites can share one log.
 */
export function eventStoreContract(
  open: (options?: ContractStoreOptions) => Promise<EventStore>,
  close: () => Promise<void>,
) {
  let store: EventStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store.close();
    await close();
  });

  const stream = (kind = 'contract') => `${kind}-${randomUUID()}`;
  const event = (type = 'Something', data: unknown = { n: 1 }) => ({
    id: randomUUID(),
    type,
    data,
  });

  async function expectWrongVersion(promise: Promise<unknown>, actual: bigint | 'no_stream') {
    const error: unknown = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect((error as WrongExpectedVersionError).actual).toBe(actual);
  }

  describe('expected revision', () => {
    it('no_stream creates a stream at revision 0 and refuses an existing one', async () => {
      const name = stream();
      const first = await store.appendToStream(name, [event()], { expectedRevision: 'no_stream' });
      expect(first.nextExpectedRevision).toBe(0n);
      await expectWrongVersion(
        store.appendToStream(name, [event()], { expectedRevision: 'no_stream' }),
        0n,
      );
    });

    it('an exact revision appends after that revision and refuses any other', async () => {
      const name = stream();
      await store.appendToStream(name, [event(), event()], { expectedRevision: 'no_stream' });
      const next = await store.appendToStream(name, [event()], { expectedRevision: 1n });
      expect(next.nextExpectedRevision).toBe(2n);
      await expectWrongVersion(store.appendToStream(name, [event()], { expectedRevision: 1n }), 2n);
      expect(await store.readStream(name)).toHaveLength(3);
    });

    it('an exact revision on a missing stream reports no_stream', async () => {
      const error = store.appendToStream(stream(), [event()], { expectedRevision: 0n });
      await expectWrongVersion(error, 'no_stream');
    });

    it('stream_exists refuses a missing stream and appends to an existing one', async () => {
      const name = stream();
      await expectWrongVersion(
        store.appendToStream(name, [event()], { expectedRevision: 'stream_exists' }),
        'no_stream',
      );
      await store.appendToStream(name, [event()], { expectedRevision: 'no_stream' });
      const result = await store.appendToStream(name, [event()], {
        expectedRevision: 'stream_exists',
      });
      expect(result.nextExpectedRevision).toBe(1n);
    });

    it('any appends to missing and existing streams alike', async () => {
      const name = stream();
      expect(
        (await store.appendToStream(name, [event()], { expectedRevision: 'any' }))
          .nextExpectedRevision,
      ).toBe(0n);
      expect((await store.appendToStream(name, [event(), event()])).nextExpectedRevision).toBe(2n);
    });

    it('lets exactly one of many concurrent appends at one revision win', async () => {
      const name = stream();
      await store.appendToStream(name, [event()], { expectedRevision: 'no_stream' });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () =>
          store.appendToStream(name, [event()], { expectedRevision: 0n }),
        ),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected')
          expect(result.reason).toBeInstanceOf(WrongExpectedVersionError);
      }
      expect(await store.readStream(name)).toHaveLength(2);
    });
  });

  describe('idempotent appends', () => {
    it('returns the original result for a re-appended event id and stores nothing', async () => {
      const name = stream();
      const batch = [event(), event()];
      const original = await store.appendToStream(name, batch, { expectedRevision: 'no_stream' });
      const retried = await store.appendToStream(name, batch, { expectedRevision: 'no_stream' });
      expect(retried.nextExpectedRevision).toBe(original.nextExpectedRevision);
      expect(comparePositions(retried.position, original.position)).toBe(0);
      expect(await store.readStream(name)).toHaveLength(2);
      // The command loop decides again on a duplicate: the stored events may be another
      // request's (docs/event-store.md).
      expect(original.duplicate).toBe(false);
      expect(retried.duplicate).toBe(true);
    });

    it('stores an event once when the same id is appended concurrently', async () => {
      const name = stream();
      const same = event();
      await Promise.allSettled(
        Array.from({ length: 10 }, () => store.appendToStream(name, [same])),
      );
      expect(await store.readStream(name)).toHaveLength(1);
    });
  });

  describe('reading a stream', () => {
    it('reads forwards and backwards from a revision, bounded by maxCount', async () => {
      const name = stream();
      await store.appendToStream(
        name,
        [0, 1, 2, 3, 4].map((n) => event('Numbered', { n })),
      );
      const forwards = await store.readStream(name, { fromRevision: 1n, maxCount: 3 });
      expect(forwards.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      expect(forwards.map((e) => e.revision)).toEqual([1n, 2n, 3n]);
      const backwards = await store.readStream(name, { direction: 'backwards', maxCount: 2 });
      expect(backwards.map((e) => e.data)).toEqual([{ n: 4 }, { n: 3 }]);
      const fromThree = await store.readStream(name, { direction: 'backwards', fromRevision: 2n });
      expect(fromThree.map((e) => e.revision)).toEqual([2n, 1n, 0n]);
    });

    it('reads a missing stream as empty', async () => {
      expect(await store.readStream(stream())).toEqual([]);
    });

    it('keeps type, data, metadata, id and a timestamp', async () => {
      const name = stream();
      const appended = {
        id: randomUUID(),
        type: 'Detailed',
        data: { text: 'quote " \\ 한글' },
        metadata: { correlationId: 'c-1' },
      };
      await store.appendToStream(name, [appended]);
      const [read] = await store.readStream(name);
      expect(read).toMatchObject({
        id: appended.id,
        streamName: name,
        type: 'Detailed',
        data: appended.data,
        revision: 0n,
      });
      expect(read!.metadata.correlationId).toBe('c-1');
      expect(read!.createdAt).toBeInstanceOf(Date);
    });
  });

  describe('reading the log', () => {
    it('reads in strictly increasing positions after an exclusive start, with filters', async () => {
      const kind = `log${randomUUID().slice(0, 8)}`;
      const a = `${kind}a-${randomUUID()}`;
      const b = `${kind}b-${randomUUID()}`;
      const typeA = `TypeA${kind}`;
      const typeB = `TypeB${kind}`;
      const first = await store.appendToStream(a, [event(typeA, { i: 0 })]);
      await store.appendToStream(b, [event(typeB, { i: 1 })]);
      await store.appendToStream(a, [event(typeA, { i: 2 }), event(typeB, { i: 3 })]);

      const byType = await store.readAll({ filter: { eventTypes: [typeA] } });
      expect(byType.map((e) => e.data)).toEqual([{ i: 0 }, { i: 2 }]);

      const byPrefix = await store.readAll({ filter: { streamPrefixes: [`${kind}b-`] } });
      expect(byPrefix.map((e) => e.data)).toEqual([{ i: 1 }]);

      const both = await store.readAll({ filter: { streamPrefixes: [`${kind}a-`, `${kind}b-`] } });
      expect(both.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
      for (let i = 1; i < both.length; i++) {
        expect(comparePositions(both[i - 1]!.position, both[i]!.position)).toBeLessThan(0);
      }

      const after = await store.readAll({
        fromPosition: first.position,
        filter: { streamPrefixes: [kind] },
      });
      expect(after.map((e) => e.data)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
      const limited = await store.readAll({ maxCount: 2, filter: { streamPrefixes: [kind] } });
      expect(limited).toHaveLength(2);
    });

    it('stops at an inclusive upper bound', async () => {
      const kind = `upto${randomUUID().slice(0, 8)}`;
      const first = await store.appendToStream(`${kind}-${randomUUID()}`, [event('T', { i: 0 })]);
      const second = await store.appendToStream(`${kind}-${randomUUID()}`, [event('T', { i: 1 })]);
      await store.appendToStream(`${kind}-${randomUUID()}`, [event('T', { i: 2 })]);
      const filter = { streamPrefixes: [kind] };
      const upTo = await store.readAll({ toPosition: second.position, filter });
      expect(upTo.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }]);
      const between = await store.readAll({
        fromPosition: first.position,
        toPosition: second.position,
        filter,
      });
      expect(between.map((e) => e.data)).toEqual([{ i: 1 }]);
    });
  });

  describe('the head of the log', () => {
    it('is the last committed event, or the last of some types', async () => {
      const typeA = `HeadA${randomUUID().slice(0, 8)}`;
      const a = await store.appendToStream(stream(), [event(typeA)]);
      const b = await store.appendToStream(stream(), [event('HeadOther')]);
      expect(comparePositions(await store.headPosition(), b.position)).toBeGreaterThanOrEqual(0);
      expect(comparePositions(await store.headPosition({ eventTypes: [typeA] }), a.position)).toBe(
        0,
      );
    });
  });

  describe('subscribing to the log', () => {
    it('catches up on history, then delivers live events in order', async () => {
      const kind = `sub${randomUUID().slice(0, 8)}-`;
      await store.appendToStream(`${kind}1`, [event('Past', { i: 0 }), event('Past', { i: 1 })]);
      const received = firstValueFrom(
        store.subscribeToAll({ filter: { streamPrefixes: [kind] } }).pipe(take(5), toArray()),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      await store.appendToStream(`${kind}2`, [event('Live', { i: 2 })]);
      await store.appendToStream(`${kind}1`, [event('Live', { i: 3 }), event('Live', { i: 4 })]);
      const events = await received;
      expect(events.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    });

    it('delivers every event of many concurrent appenders exactly once, in log order', async () => {
      const kind = `conc${randomUUID().slice(0, 8)}-`;
      const appenders = 16;
      const perAppender = 25;
      const total = appenders * perAppender;
      const received = firstValueFrom(
        store.subscribeToAll({ filter: { streamPrefixes: [kind] } }).pipe(take(total), toArray()),
      );
      await Promise.all(
        Array.from({ length: appenders }, async (_, appender) => {
          for (let i = 0; i < perAppender; i++) {
            await store.appendToStream(`${kind}${appender % 4}`, [
              event('Concurrent', { appender, i }),
            ]);
          }
        }),
      );
      const events = await received;
      expect(new Set(events.map((e) => e.id)).size).toBe(total);
      for (let i = 1; i < events.length; i++) {
        expect(comparePositions(events[i - 1]!.position, events[i]!.position)).toBeLessThan(0);
      }
    });
  });

  /** Pulls batches until `done` says so; fails (does not hang) if that never happens. */
  async function pull(
    batches: AsyncIterable<LogBatch>,
    done: (batch: LogBatch, all: LogBatch[]) => boolean,
    controller: AbortController,
  ): Promise<LogBatch[]> {
    const all: LogBatch[] = [];
    const bound = setTimeout(() => controller.abort(), 30_000);
    try {
      for await (const batch of batches) {
        all.push(batch);
        if (done(batch, all)) break;
      }
    } finally {
      clearTimeout(bound);
      controller.abort();
    }
    return all;
  }

  describe('appending to several streams', () => {
    it('appends to each against its own revision, in order, and returns each result', async () => {
      const [a, b, c] = [stream(), stream(), stream()];
      await store.appendToStream(b, [event()], { expectedRevision: 'no_stream' });
      const results = await store.appendToStreams([
        { streamName: a, events: [event('A')], expectedRevision: 'no_stream' },
        { streamName: b, events: [event('B1'), event('B2')], expectedRevision: 0n },
        { streamName: c, events: [event('C')], expectedRevision: 'any' },
      ]);
      expect(results.map((result) => result.nextExpectedRevision)).toEqual([0n, 2n, 0n]);
      expect(comparePositions(results[0]!.position, results[1]!.position)).toBeLessThan(0);
      expect(comparePositions(results[1]!.position, results[2]!.position)).toBeLessThan(0);
      const [readA, readB, readC] = await Promise.all(
        [a, b, c].map((name) => store.readStream(name)),
      );
      expect(readB!.map((recorded) => recorded.type)).toEqual(['Something', 'B1', 'B2']);
      const order = [readA![0]!, readB![1]!, readB![2]!, readC![0]!];
      expect(order.map((recorded) => recorded.type)).toEqual(['A', 'B1', 'B2', 'C']);
      for (let i = 1; i < order.length; i++)
        expect(comparePositions(order[i - 1]!.position, order[i]!.position)).toBeLessThan(0);
      expect(comparePositions(readC![0]!.position, results[2]!.position)).toBe(0);
    });

    it('names the stream whose revision is wrong and appends nothing after it', async () => {
      const [a, b, c] = [stream(), stream(), stream()];
      await store.appendToStream(b, [event()], { expectedRevision: 'no_stream' });
      await expectWrongVersion(
        store.appendToStreams([
          { streamName: a, events: [event()], expectedRevision: 'no_stream' },
          { streamName: b, events: [event()], expectedRevision: 'no_stream' },
          { streamName: c, events: [event()], expectedRevision: 'no_stream' },
        ]),
        0n,
      );
      expect(await store.readStream(b)).toHaveLength(1);
      expect(await store.readStream(c)).toEqual([]);
    });

    it('lets one of two concurrent multi-stream appends at the same revisions win', async () => {
      const [a, b] = [stream(), stream()];
      const both = () =>
        store.appendToStreams([
          { streamName: a, events: [event()], expectedRevision: 'no_stream' },
          { streamName: b, events: [event()], expectedRevision: 'no_stream' },
        ]);
      const results = await Promise.allSettled([both(), both()]);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      expect(await store.readStream(a)).toHaveLength(1);
      expect(await store.readStream(b)).toHaveLength(1);
    });

    it('refuses an empty batch or a stream named twice, and appends nothing', async () => {
      const name = stream();
      await expect(
        store.appendToStreams([{ streamName: name, events: [], expectedRevision: 'any' }]),
      ).rejects.toThrow();
      await expect(
        store.appendToStreams([
          { streamName: name, events: [event()], expectedRevision: 'any' },
          { streamName: name, events: [event()], expectedRevision: 'any' },
        ]),
      ).rejects.toThrow();
      expect(await store.readStream(name)).toEqual([]);
      expect(await store.appendToStreams([])).toEqual([]);
    });
  });

  describe('appending nothing', () => {
    it('refuses an empty batch and stores nothing', async () => {
      const name = stream();
      await expect(store.appendToStream(name, [])).rejects.toThrow();
      expect(await store.readStream(name)).toEqual([]);
    });
  });

  describe('reading the log a page at a time', () => {
    it('reads across many pages, each event once, in order, after an exclusive start', async () => {
      const paged = await open({ readPageSize: 3 });
      try {
        const kind = `page${randomUUID().slice(0, 8)}-`;
        // Single and multi-event appends, so page boundaries fall inside a batch too.
        const first = await paged.appendToStream(`${kind}a`, [event('Paged', { i: 0 })]);
        await paged.appendToStream(
          `${kind}b`,
          [1, 2, 3, 4].map((i) => event('Paged', { i })),
        );
        for (let i = 5; i < 11; i++)
          await store.appendToStream(`${kind}${i % 2 ? 'a' : 'b'}`, [event('Paged', { i })]);
        const filter = { streamPrefixes: [kind] };
        const all = await paged.readAll({ filter, maxCount: 100 });
        expect(all.map((e) => (e.data as { i: number }).i)).toEqual([...Array(11).keys()]);
        const limited = await paged.readAll({ filter, maxCount: 7 });
        expect(limited.map((e) => e.id)).toEqual(all.slice(0, 7).map((e) => e.id));
        const after = await paged.readAll({ filter, fromPosition: first.position });
        expect(after.map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id));
        const fromMiddle = await paged.readAll({ filter, fromPosition: all[5]!.position });
        expect(fromMiddle.map((e) => e.id)).toEqual(all.slice(6).map((e) => e.id));
      } finally {
        await paged.close();
      }
    });
  });

  describe('following the log', () => {
    it('a filtered streamAll reaches the head after unrelated appends', async () => {
      const wanted = `Wanted${randomUUID().slice(0, 8)}`;
      const mine = await store.appendToStream(stream(), [event(wanted)]);
      const controller = new AbortController();
      const batches = store.streamAll({
        fromPosition: mine.position,
        filter: { eventTypes: [wanted] },
        signal: controller.signal,
      });
      const target: { head?: Position } = {};
      const seen = pull(
        batches,
        (batch) => !!target.head && comparePositions(batch.checkpoint, target.head) >= 0,
        controller,
      );
      let unrelated = START;
      for (let i = 0; i < 5; i++)
        unrelated = (await store.appendToStream(stream(), [event('Unrelated')])).position;
      target.head = unrelated;
      const all = await seen;
      expect(all.flatMap((batch) => batch.events)).toEqual([]);
      expect(comparePositions(all[all.length - 1]!.checkpoint, unrelated)).toBeGreaterThanOrEqual(
        0,
      );
    });

    it('resumes from a stored checkpoint, also one between matching events', async () => {
      const kind = `resume${randomUUID().slice(0, 8)}-`;
      const filter = { streamPrefixes: [kind] };
      const first = await store.appendToStream(`${kind}1`, [event('R', { i: 0 })]);
      await store.appendToStream(`${kind}1`, [event('R', { i: 1 })]);
      const controller = new AbortController();
      const resumed = await pull(
        store.streamAll({ fromPosition: first.position, filter, signal: controller.signal }),
        (_, all) => all.flatMap((b) => b.events).length >= 1,
        controller,
      );
      expect(resumed.flatMap((b) => b.events).map((e) => e.data)).toEqual([{ i: 1 }]);

      // A checkpoint taken over unrelated events: resuming there gives only what follows.
      const quiet = new AbortController();
      const last = (await store.appendToStream(stream(), [event('Unrelated')])).position;
      const caughtUp = await pull(
        store.streamAll({ fromPosition: START, filter, signal: quiet.signal }),
        (batch) => comparePositions(batch.checkpoint, last) >= 0,
        quiet,
      );
      const stored = caughtUp[caughtUp.length - 1]!.checkpoint;
      await store.appendToStream(`${kind}2`, [event('R', { i: 2 })]);
      const again = new AbortController();
      const tail = await pull(
        store.streamAll({ fromPosition: stored, filter, signal: again.signal }),
        (_, all) => all.flatMap((b) => b.events).length >= 1,
        again,
      );
      expect(tail.flatMap((b) => b.events).map((e) => e.data)).toEqual([{ i: 2 }]);
    });

    it('never gives a checkpoint ahead of an event it has not delivered', async () => {
      const kind = `order${randomUUID().slice(0, 8)}-`;
      const total = 8 * 15;
      const controller = new AbortController();
      const batches = pull(
        store.streamAll({
          filter: { streamPrefixes: [kind] },
          batchSize: 7,
          signal: controller.signal,
        }),
        (_, all) => all.flatMap((b) => b.events).length >= total,
        controller,
      );
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 15; i++)
            await store.appendToStream(`${kind}${w % 3}`, [event('Ordered', { w, i })]);
        }),
      );
      let checkpoint = START;
      const ids = new Set<string>();
      for (const batch of await batches) {
        expect(batch.events.length).toBeLessThanOrEqual(7);
        for (const delivered of batch.events) {
          expect(comparePositions(delivered.position, checkpoint)).toBeGreaterThan(0);
          ids.add(delivered.id);
        }
        const lastEvent = batch.events[batch.events.length - 1];
        if (lastEvent)
          expect(comparePositions(batch.checkpoint, lastEvent.position)).toBeGreaterThanOrEqual(0);
        expect(comparePositions(batch.checkpoint, checkpoint)).toBeGreaterThanOrEqual(0);
        checkpoint = batch.checkpoint;
      }
      expect(ids.size).toBe(total);
    });
  });

  describe('re-appending', () => {
    it('returns the original result after a restart and after the stream moved on', async () => {
      const name = stream();
      const batch = [event(), event()];
      const original = await store.appendToStream(name, batch, { expectedRevision: 'no_stream' });
      // A new store on the same log: what a restarted process sees.
      const restarted = await open();
      try {
        const retried = await restarted.appendToStream(name, batch, {
          expectedRevision: 'no_stream',
        });
        expect(retried.nextExpectedRevision).toBe(original.nextExpectedRevision);
        expect(comparePositions(retried.position, original.position)).toBe(0);
        await restarted.appendToStream(name, [event()], { expectedRevision: 1n });
        const late = await restarted.appendToStream(name, batch, {
          expectedRevision: 'no_stream',
        });
        expect(late.nextExpectedRevision).toBe(original.nextExpectedRevision);
        expect(comparePositions(late.position, original.position)).toBe(0);
        expect(await restarted.readStream(name)).toHaveLength(3);
      } finally {
        await restarted.close();
      }
    });
  });
}
