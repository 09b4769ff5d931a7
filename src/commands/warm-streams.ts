import type { Subscription } from 'rxjs';
import { seatKind, seatStream, type SeatEvent } from '../events/seat.js';
import type { EventStore } from '../events/store/port.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { streamStateCache } from './stream-cache.js';

const seatPrefix = seatStream('');

/**
 * Keeps the command loop's cached seat states current from the batches the projections
 * apply (the leader reads the whole log anyway): a seat scheduled or changed while this
 * process leads is held later in one round trip. Only seat streams: holds are the hot path.
 */
export function warmSeatStreams(runner: ProjectionRunner, store: EventStore): Subscription {
  const cache = streamStateCache(store);
  return runner.applied.subscribe(({ events }) => {
    for (const event of events) {
      if (!event.streamName.startsWith(seatPrefix)) continue;
      const seatEvent = { type: event.type, data: event.data } as SeatEvent;
      cache.observe(event.streamName, seatKind, event.revision, seatEvent);
    }
  });
}
