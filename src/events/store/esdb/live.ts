import { eventTypeFilter, type AllStreamResolvedEvent } from '@eventstore/db-client';
import {
  START,
  comparePositions,
  type LogBatch,
  type Position,
  type RecordedEvent,
  type StreamAllOptions,
} from '../port.js';
import { matches, positionOf, toRecordedEvent, type EsdbClient } from './client.js';

/** One record of $all as it arrived: our event if it matches the filter, and its position. */
interface Arrived {
  readonly event?: RecordedEvent;
  readonly position: Position;
}

export interface LiveOptions {
  /** Pause the server stream past this many records waiting for the consumer. */
  readonly maxBuffered?: number;
}

/**
 * What the subscription hands to the consumer: the records in arrival order, the first
 * failure, and the wake-ups. The subscription's callbacks push; the generator pulls.
 */
class Arrivals {
  readonly queue: Arrived[] = [];
  failure: Error | undefined;
  stopping = false;
  private wake: (() => void) | undefined;
  private drainWaiters: (() => void)[] = [];

  readonly notify = () => {
    const resolve = this.wake;
    this.wake = undefined;
    resolve?.();
  };

  /** Resolves at the next notify. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  waitForDrain(): Promise<void> {
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

function subscribe(
  client: EsdbClient,
  options: StreamAllOptions,
  from: Position | undefined,
  maxBuffered: number,
  arrivals: Arrivals,
) {
  const { queue } = arrivals;
  const subscription = client.subscribeToAll({
    fromPosition: from ?? 'start',
    filter: eventTypeFilter({
      regex: '^[^$]',
      checkpointInterval: 1,
      // The client awaits this before it passes on later records, but records it passed
      // on earlier may still sit in the stream's buffer while it is paused: wait until
      // they reached the queue, so the checkpoint lands behind them, never ahead.
      checkpointReached: async (buffered, position) => {
        while (buffered.readableLength > 0 && !arrivals.stopping) await arrivals.waitForDrain();
        queue.push({ position: positionOf(position) });
        arrivals.notify();
      },
    }),
  });
  subscription.on('data', (resolved: AllStreamResolvedEvent) => {
    const position = resolved.event?.position;
    if (position && (!from || comparePositions(position, from) > 0)) {
      const event = toRecordedEvent(resolved);
      queue.push({
        ...(event && matches(event, options.filter) ? { event } : {}),
        position: positionOf(position),
      });
    }
    // Bound memory when the consumer is slower than the server.
    if (queue.length >= maxBuffered && !subscription.isPaused()) subscription.pause();
    if (subscription.readableLength === 0) arrivals.releaseDrainWaiters();
    arrivals.notify();
  });
  subscription.on('error', (error: Error) => {
    arrivals.failure ??= error;
    arrivals.notify();
  });
  const ended = () => {
    if (!arrivals.stopping)
      arrivals.failure ??= new Error('the $all subscription ended without an error');
    arrivals.notify();
  };
  subscription.on('end', ended);
  subscription.on('close', ended);
  return subscription;
}

/**
 * streamAll over one `$all` subscription. The server filters only system events out
 * (`^[^$]`): a server-side type or prefix filter sends a checkpoint only every
 * 32 x checkpointInterval filtered-out records, so a quiet filtered consumer would never
 * learn it is caught up. Here every record of ours arrives, the filter runs in the
 * adapter, and the checkpoint advances over non-matching records as soon as the buffer
 * drains. Batches hold up to `batchSize` matching events; a checkpoint is never ahead of an
 * event not yet delivered; a subscription that ends without an error is an error.
 */
export async function* streamAllLive(
  client: EsdbClient,
  options: StreamAllOptions,
  live: LiveOptions = {},
): AsyncGenerator<LogBatch> {
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const maxBuffered = live.maxBuffered ?? 1000;
  const from =
    options.fromPosition && comparePositions(options.fromPosition, START) > 0
      ? options.fromPosition
      : undefined;
  const arrivals = new Arrivals();
  const { queue } = arrivals;
  const subscription = subscribe(client, options, from, maxBuffered, arrivals);
  options.signal?.addEventListener('abort', arrivals.notify, { once: true });

  let delivered = from ?? START;
  let reached = delivered;
  try {
    while (!options.signal?.aborted) {
      if (queue.length === 0) {
        if (arrivals.failure) throw arrivals.failure;
        await arrivals.next();
        continue;
      }
      const events: RecordedEvent[] = [];
      while (queue.length > 0 && events.length < batchSize) {
        const item = queue.shift()!;
        if (item.event) events.push(item.event);
        if (comparePositions(item.position, reached) > 0) reached = item.position;
      }
      if (queue.length < maxBuffered / 2 && subscription.isPaused()) subscription.resume();
      // Records that all missed the filter: one empty batch once the buffer has drained.
      if (events.length === 0 && (queue.length > 0 || comparePositions(reached, delivered) <= 0))
        continue;
      delivered = reached;
      yield { events, checkpoint: reached };
    }
  } finally {
    arrivals.stopping = true;
    arrivals.releaseDrainWaiters();
    options.signal?.removeEventListener('abort', arrivals.notify);
    await subscription.unsubscribe().catch(() => undefined);
  }
}
