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
  const queue: Arrived[] = [];
  let failure: Error | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  let drainWaiters: (() => void)[] = [];
  const releaseDrainWaiters = () => {
    const waiters = drainWaiters;
    drainWaiters = [];
    waiters.forEach((resolve) => resolve());
  };

  const subscription = client.subscribeToAll({
    fromPosition: from ?? 'start',
    filter: eventTypeFilter({
      regex: '^[^$]',
      checkpointInterval: 1,
      // The client awaits this before it passes on later records, but records it passed
      // on earlier may still sit in the stream's buffer while it is paused: wait until
      // they reached the queue, so the checkpoint lands behind them, never ahead.
      checkpointReached: async (buffered, position) => {
        while (buffered.readableLength > 0 && !stopping)
          await new Promise<void>((resolve) => drainWaiters.push(resolve));
        queue.push({ position: positionOf(position) });
        notify();
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
    if (subscription.readableLength === 0) releaseDrainWaiters();
    notify();
  });
  subscription.on('error', (error: Error) => {
    failure ??= error;
    notify();
  });
  const ended = () => {
    if (!stopping) failure ??= new Error('the $all subscription ended without an error');
    notify();
  };
  subscription.on('end', ended);
  subscription.on('close', ended);
  options.signal?.addEventListener('abort', notify, { once: true });

  let delivered = from ?? START;
  let reached = delivered;
  try {
    while (!options.signal?.aborted) {
      if (queue.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
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
    stopping = true;
    releaseDrainWaiters();
    options.signal?.removeEventListener('abort', notify);
    await subscription.unsubscribe().catch(() => undefined);
  }
}
