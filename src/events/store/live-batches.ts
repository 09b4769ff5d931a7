import { Observable } from 'rxjs';
import type { LogBatch, RecordedEvent } from './port.js';

/**
 * Turns a live batch iterator into an Observable of single events. Unsubscribing aborts
 * the iterator's signal, so a waiting read ends at once.
 */
export function observeBatches(
  open: (signal: AbortSignal) => AsyncIterable<LogBatch>,
): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const batch of open(controller.signal)) {
          for (const event of batch.events) {
            if (controller.signal.aborted) return;
            subscriber.next(event);
          }
          if (controller.signal.aborted) return;
        }
        subscriber.complete();
      } catch (error) {
        if (!controller.signal.aborted) subscriber.error(error);
      }
    })();
    return () => controller.abort();
  });
}
