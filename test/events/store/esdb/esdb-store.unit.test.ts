import { DeadlineExceededError } from '@eventstore/db-client';
import { EventStoreDbStore } from '../../../../src/events/store/esdb/store.js';
import { comparePositions, type LogBatch } from '../../../../src/events/store/port.js';
import { FakeKurrent } from './fake-client.js';

/**
 * The adapter's own logic over a stand-in for the server (see fake-client.ts). What only
 * a server can decide runs in the contract suite with EVENTSTORE_URL.
 */
describe('EventStoreDB adapter logic (stand-in client)', () => {
  const setup = (options: ConstructorParameters<typeof EventStoreDbStore>[1] = {}) => {
    const server = new FakeKurrent();
    const store = new EventStoreDbStore(server.asClient(), { pageSize: 3, ...options });
    return { server, store };
  };

  describe('readAll', () => {
    it('reads many pages, each event once, skipping the boundary a page restarts at', async () => {
      const { server, store } = setup();
      for (let i = 0; i < 10; i++)
        server.write(`s-${i % 2}`, i % 3 === 0 ? '$system' : 'Wanted', { i });
      const events = await store.readAll();
      expect(events.map((e) => (e.data as { i: number }).i)).toEqual([1, 2, 4, 5, 7, 8]);
      expect(server.readAllCalls.length).toBeGreaterThan(3);
      expect(server.leakedReads()).toEqual([]);
    });

    it('is exclusive of fromPosition and cancels the read it stops early', async () => {
      const { server, store } = setup();
      const written = Array.from({ length: 8 }, (_, i) => server.write('s', 'E', { i }));
      const events = await store.readAll({ fromPosition: written[1]!.event.position, maxCount: 2 });
      expect(events.map((e) => e.data)).toEqual([{ i: 2 }, { i: 3 }]);
      expect(server.reads.some((read) => read.cancelled)).toBe(true);
      expect(server.leakedReads()).toEqual([]);
    });

    it('resumes a repeated filtered scan where the last one stopped', async () => {
      const { server, store } = setup();
      for (let i = 0; i < 9; i++) server.write('other', 'Other');
      const scan = () => store.readAll({ filter: { eventTypes: ['Wanted'] } });
      expect(await scan()).toEqual([]);
      const last = server.log[server.log.length - 1]!.event.position;
      server.write('w', 'Wanted', { late: true });
      server.readAllCalls.length = 0;
      expect((await scan()).map((e) => e.data)).toEqual([{ late: true }]);
      expect(server.readAllCalls[0]!.fromPosition).toEqual(last);
      // And again, with the match remembered.
      server.write('other', 'Other');
      expect((await scan()).map((e) => e.data)).toEqual([{ late: true }]);
    });
  });

  describe('headPosition', () => {
    it('reads backwards a page at a time and cancels once it found the newest event', async () => {
      const { server, store } = setup();
      for (let i = 0; i < 10; i++) server.write('s', 'E');
      server.write('s', '$system');
      const head = await store.headPosition();
      expect(head).toEqual(server.log[9]!.event.position);
      expect(server.readAllCalls).toEqual([
        { direction: 'backwards', fromPosition: 'end', maxCount: 3 },
      ]);
      expect(server.leakedReads()).toEqual([]);
    });

    it('with a type filter scans back once, then only what was appended since', async () => {
      const { server, store } = setup();
      const token = server.write('t', 'TokenIssued');
      for (let i = 0; i < 7; i++) server.write('s', 'Other');
      expect(await store.headPosition({ eventTypes: ['TokenIssued'] })).toEqual(
        token.event.position,
      );
      server.readAllCalls.length = 0;
      const scanned = server.log[server.log.length - 1]!.event.position;
      const newest = server.write('t', 'TokenIssued');
      server.write('s', 'Other');
      expect(await store.headPosition({ eventTypes: ['TokenIssued'] })).toEqual(
        newest.event.position,
      );
      expect(server.readAllCalls[0]!.fromPosition).toEqual(scanned);
      expect(server.readAllCalls.every((call) => call.direction === undefined)).toBe(true);
      expect(await store.headPosition({ eventTypes: ['Missing'] })).toEqual({
        commit: -1n,
        prepare: -1n,
      });
      expect(server.leakedReads()).toEqual([]);
    });
  });

  describe('appendToStream', () => {
    it('rejects an empty batch', async () => {
      const { store } = setup();
      await expect(store.appendToStream('s', [])).rejects.toThrow(/at least one event/);
    });

    it('answers a timed-out append that landed with the original result', async () => {
      const { server, store } = setup();
      let fail = true;
      server.hooks.afterWrite = () =>
        fail ? ((fail = false), new DeadlineExceededError()) : undefined;
      const result = await store.appendToStream('s', [
        { type: 'A', data: {} },
        { type: 'B', data: {} },
      ]);
      expect(result.nextExpectedRevision).toBe(1n);
      expect(result.position).toEqual(server.log[1]!.event.position);
      expect(server.leakedReads()).toEqual([]);
    });

    it('still fails a timed-out append that did not land', async () => {
      const { server, store } = setup();
      server.write('s', 'Earlier');
      server.hooks.beforeWrite = () => new DeadlineExceededError();
      await expect(store.appendToStream('s', [{ type: 'A', data: {} }])).rejects.toBeInstanceOf(
        DeadlineExceededError,
      );
    });
  });

  describe('appendToStreams', () => {
    it('appends one stream after another and stops at the first wrong revision', async () => {
      const { server, store } = setup();
      server.write('b', 'Earlier');
      await expect(
        store.appendToStreams([
          { streamName: 'a', events: [{ type: 'A', data: {} }], expectedRevision: 'no_stream' },
          { streamName: 'b', events: [{ type: 'B', data: {} }], expectedRevision: 'no_stream' },
          { streamName: 'c', events: [{ type: 'C', data: {} }], expectedRevision: 'no_stream' },
        ]),
      ).rejects.toThrow(/b/);
      expect((await store.readStream('a')).map((event) => event.type)).toEqual(['A']);
      expect(await store.readStream('c')).toEqual([]);
    });
  });

  describe('streamAll', () => {
    async function take(iterator: AsyncIterator<LogBatch>, count: number) {
      const batches: LogBatch[] = [];
      for (let i = 0; i < count; i++) batches.push((await iterator.next()).value as LogBatch);
      return batches;
    }

    it('filters on the server by system events only and reaches the head over unrelated events', async () => {
      const { server, store } = setup();
      const controller = new AbortController();
      const stream = store.streamAll({
        filter: { eventTypes: ['Wanted'] },
        signal: controller.signal,
      });
      const iterator = stream[Symbol.asyncIterator]();
      const wanted = server.write('w', 'Wanted');
      const [first] = await take(iterator, 1);
      expect(first!.events.map((e) => e.id)).toEqual([wanted.event.id]);
      for (let i = 0; i < 5; i++) server.write('o', 'Unrelated');
      const [quiet] = await take(iterator, 1);
      expect(quiet!.events).toEqual([]);
      expect(quiet!.checkpoint).toEqual(server.log[server.log.length - 1]!.event.position);
      const filter = server.subscriptions[0]!.serverFilter as { regex: string };
      expect(filter.regex).toBe('^[^$]');
      controller.abort();
      await iterator.return?.();
      expect(server.subscriptions[0]!.unsubscribed).toBe(true);
    });

    it('groups events up to batchSize and never puts a checkpoint ahead of an undelivered event', async () => {
      const { server, store } = setup({ maxBuffered: 4 });
      // Events of ours, then enough system events for the server to send a checkpoint
      // while the early events still wait in the paused stream's buffer.
      for (let i = 0; i < 12; i++) server.write('w', 'Wanted', { i });
      for (let i = 0; i < 32; i++) server.write('$stats', '$statsCollected');
      const serverCheckpoint = server.log[server.log.length - 1]!.event.position;
      const controller = new AbortController();
      const delivered: number[] = [];
      let lastCheckpoint = { commit: -1n, prepare: -1n };
      for await (const batch of store.streamAll({ batchSize: 5, signal: controller.signal })) {
        expect(batch.events.length).toBeLessThanOrEqual(5);
        for (const event of batch.events) {
          // An event at or behind a checkpoint already given would be lost on resume.
          expect(comparePositions(event.position, lastCheckpoint)).toBeGreaterThan(0);
          delivered.push((event.data as { i: number }).i);
        }
        lastCheckpoint = batch.checkpoint;
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (comparePositions(batch.checkpoint, serverCheckpoint) >= 0) controller.abort();
      }
      expect(delivered).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect(lastCheckpoint).toEqual(serverCheckpoint);
    });

    it('treats a subscription that ends without an error as an error', async () => {
      const { server, store } = setup();
      const iterator = store.streamAll({})[Symbol.asyncIterator]();
      const pending = iterator.next();
      await new Promise((resolve) => setImmediate(resolve));
      server.subscriptions[0]!.source.end();
      await expect(pending).rejects.toThrow(/ended without an error/);
    });

    it('resumes after a stored checkpoint without repeating it', async () => {
      const { server, store } = setup();
      const first = server.write('w', 'Wanted', { i: 0 });
      server.write('w', 'Wanted', { i: 1 });
      const controller = new AbortController();
      const stream = store.streamAll({
        fromPosition: first.event.position,
        signal: controller.signal,
      });
      const iterator = stream[Symbol.asyncIterator]();
      const [batch] = await take(iterator, 1);
      expect(batch!.events.map((e) => e.data)).toEqual([{ i: 1 }]);
      controller.abort();
      await iterator.return?.();
    });
  });
});
