import { randomUUID } from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type Filter,
} from '@eventstore/db-client';
import type { EsdbClient } from '../../../../src/events/store/esdb/client.js';

/**
 * A stand-in for a KurrentDB server behind the v6 client (which cannot run on the CI
 * machine), following the client's documented streams: reads are object-mode Node
 * streams with `cancel()`; readAll starts inclusively at its position and has no filter;
 * a subscription is a Transform that awaits `checkpointReached` before passing on later
 * records, applies its filter on the server and sends a checkpoint once per
 * 32 x checkpointInterval filtered-out records; appends dedupe on event ids.
 * It records every read, so tests can find reads that were neither finished nor cancelled.
 */

type Resolved = AllStreamResolvedEvent & { event: NonNullable<AllStreamResolvedEvent['event']> };
type Response = { event?: Resolved; checkpoint?: { commit: bigint; prepare: bigint } };

export class FakeRead extends Readable {
  ended = false;
  cancelled = false;
  private next = 0;
  constructor(
    private readonly items: readonly unknown[],
    private readonly failure?: Error,
  ) {
    super({ objectMode: true, highWaterMark: 2 });
    this.on('end', () => (this.ended = true));
  }
  override _read() {
    if (this.failure) return void this.destroy(this.failure);
    this.push(this.next < this.items.length ? this.items[this.next++] : null);
  }
  cancel(): Promise<void> {
    this.cancelled = true;
    this.destroy();
    return Promise.resolve();
  }
}

export class FakeSubscription extends Transform {
  readonly source = new PassThrough({ objectMode: true });
  unsubscribed = false;
  filtered = 0;
  constructor(
    readonly fromPosition: unknown,
    readonly serverFilter: Filter | undefined,
  ) {
    super({ objectMode: true });
    this.source.pipe(this);
  }
  override _transform(response: Response, _encoding: BufferEncoding, next: TransformCallback) {
    void (async () => {
      if (response.checkpoint && this.serverFilter?.checkpointReached)
        await this.serverFilter.checkpointReached(this, response.checkpoint);
      if (response.event) return next(null, response.event);
      next();
    })();
  }
  /** What the server sends for one record of $all: the record, or counts it as filtered. */
  offer(record: Resolved) {
    const filter = this.serverFilter;
    const passes =
      !filter ||
      ('regex' in filter
        ? new RegExp(filter.regex).test(
            filter.filterOn === 'eventType' ? record.event.type : record.event.streamId,
          )
        : filter.prefixes.some((prefix) =>
            (filter.filterOn === 'eventType' ? record.event.type : record.event.streamId).startsWith(
              prefix,
            ),
          ));
    if (passes) {
      this.source.write({ event: record });
      return;
    }
    this.filtered++;
    const window = 32 * (filter?.checkpointInterval ?? 1);
    if (this.filtered % window === 0) this.source.write({ checkpoint: record.event.position });
  }
  unsubscribe(): Promise<void> {
    this.unsubscribed = true;
    this.source.unpipe(this);
    return Promise.resolve();
  }
}

export interface AppendHooks {
  /** Throw this after the events are stored (the answer was lost). */
  afterWrite?: () => Error | undefined;
  /** Throw this instead of storing (the request never landed). */
  beforeWrite?: () => Error | undefined;
}

export class FakeKurrent {
  readonly log: Resolved[] = [];
  readonly reads: FakeRead[] = [];
  /** The options of every readAll, in order. */
  readonly readAllCalls: { direction?: string; fromPosition?: unknown; maxCount?: number }[] = [];
  readonly subscriptions: FakeSubscription[] = [];
  hooks: AppendHooks = {};
  private commit = 1000n;

  /** Reads that were neither finished nor cancelled: open gRPC calls on a real server. */
  leakedReads() {
    return this.reads.filter((read) => !read.ended && !read.cancelled);
  }

  write(streamId: string, type: string, data: unknown = {}, id: string = randomUUID()): Resolved {
    const revision = BigInt(this.log.filter((r) => r.event.streamId === streamId).length);
    this.commit += 137n;
    const record: Resolved = {
      event: {
        streamId,
        id,
        revision,
        type,
        data: data as never,
        metadata: {} as never,
        isJson: true,
        created: new Date(),
        position: { commit: this.commit, prepare: this.commit },
      },
    };
    this.log.push(record);
    for (const subscription of this.subscriptions)
      if (!subscription.unsubscribed) subscription.offer(record);
    return record;
  }

  private stream(name: string) {
    return this.log.filter((record) => record.event.streamId === name);
  }

  private read(items: unknown[], failure?: Error) {
    const read = new FakeRead(items, failure);
    this.reads.push(read);
    return read;
  }

  readonly client = {
    appendToStream: async (
      streamName: string,
      events: { id: string; type: string; data: unknown }[],
      options: { expectedRevision: 'any' | 'no_stream' | 'stream_exists' | bigint },
    ) => {
      await Promise.resolve();
      const existing = this.stream(streamName);
      const last = events[events.length - 1]!;
      const duplicate = existing.find((record) => record.event.id === last.id);
      if (duplicate) return { success: true, nextExpectedRevision: duplicate.event.revision };
      const current = existing.length === 0 ? 'no_stream' : BigInt(existing.length - 1);
      const expected = options.expectedRevision;
      const wrong =
        (expected === 'no_stream' && current !== 'no_stream') ||
        (expected === 'stream_exists' && current === 'no_stream') ||
        (typeof expected === 'bigint' && current !== expected);
      if (wrong)
        throw new WrongExpectedVersionError(undefined, {
          streamName,
          expected,
          current,
        } as never);
      const before = this.hooks.beforeWrite?.();
      if (before) throw before;
      let record: Resolved | undefined;
      for (const event of events) record = this.write(streamName, event.type, event.data, event.id);
      const after = this.hooks.afterWrite?.();
      if (after) throw after;
      return {
        success: true,
        nextExpectedRevision: record!.event.revision,
        position: record!.event.position,
      };
    },
    readStream: (
      streamName: string,
      options: { direction: string; fromRevision: 'start' | 'end' | bigint; maxCount?: number },
    ) => {
      const records = this.stream(streamName);
      if (records.length === 0)
        return this.read([], new StreamNotFoundError(undefined, streamName));
      const backwards = options.direction === 'backwards';
      const from = options.fromRevision;
      let items = backwards ? [...records].reverse() : records;
      if (typeof from === 'bigint')
        items = items.filter((r) => (backwards ? r.event.revision <= from : r.event.revision >= from));
      return this.read(items.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER));
    },
    readAll: (
      options: {
        direction?: string;
        fromPosition?: 'start' | 'end' | { commit: bigint; prepare: bigint };
        maxCount?: number;
      } = {},
    ) => {
      this.readAllCalls.push(options);
      const backwards = options.direction === 'backwards';
      const from = options.fromPosition ?? (backwards ? 'end' : 'start');
      let items = backwards ? [...this.log].reverse() : this.log;
      // Forwards from a position is inclusive; backwards from a position reads before it.
      if (typeof from === 'object')
        items = items.filter((r) =>
          backwards ? r.event.position.commit < from.commit : r.event.position.commit >= from.commit,
        );
      return this.read(items.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER));
    },
    subscribeToAll: (options: { fromPosition?: unknown; filter?: Filter } = {}) => {
      const subscription = new FakeSubscription(options.fromPosition, options.filter);
      this.subscriptions.push(subscription);
      const from = options.fromPosition;
      // Subscriptions start after their position (exclusive).
      const past = this.log.filter(
        (r) =>
          from === 'start' ||
          from === undefined ||
          r.event.position.commit > (from as { commit: bigint }).commit,
      );
      // As over gRPC: records arrive after the call returns.
      setImmediate(() => past.forEach((record) => subscription.offer(record)));
      return subscription;
    },
    dispose: () => Promise.resolve(),
  };

  asClient(): EsdbClient {
    return this.client as unknown as EsdbClient;
  }
}
