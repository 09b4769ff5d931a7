import { randomUUID } from 'node:crypto';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  WrongExpectedVersionError,
  comparePositions,
  type EventStore,
} from '../../../src/events/store/port.js';

/**
 * The event store contract: every adapter runs this suite. `open` gives a store on an
 * empty or shared log; streams use fresh names so suites can share one log.
 */
export function eventStoreContract(open: () => Promise<EventStore>, close: () => Promise<void>) {
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
}
