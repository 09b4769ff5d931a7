import type {
  AllStreamResolvedEvent,
  EventStoreDBClient,
  ResolvedEvent,
  StreamingRead,
} from '@eventstore/db-client';
import type { EventMetadata, LogFilter, Position, RecordedEvent } from '../port.js';

/**
 * The part of the v6 client the adapter uses. Injectable so the adapter's own logic
 * (paging, checkpoints, timeout recovery, cancelling reads) is tested over a stand-in for
 * the server, which cannot run on the CI machine.
 */
export type EsdbClient = Pick<
  EventStoreDBClient,
  'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'dispose'
>;

export type AnyResolved = ResolvedEvent | AllStreamResolvedEvent;

export const positionOf = (position: Position): Position => ({
  commit: position.commit,
  prepare: position.prepare,
});

/** Our events only: system events (`$`-types) and binary events are not part of the log. */
export function toRecordedEvent(resolved: AnyResolved): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || !event.isJson || event.type.startsWith('$')) return undefined;
  const position = event.position ?? { commit: -1n, prepare: -1n };
  return {
    id: event.id,
    streamName: event.streamId,
    revision: event.revision,
    position: positionOf(position),
    type: event.type,
    data: event.data,
    metadata: (event.metadata ?? {}) as EventMetadata,
    createdAt: event.created,
  };
}

export function matches(event: RecordedEvent, filter: LogFilter | undefined): boolean {
  if (filter?.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (
    filter?.streamPrefixes &&
    !filter.streamPrefixes.some((prefix) => event.streamName.startsWith(prefix))
  )
    return false;
  return true;
}

/**
 * Visits the records of a read until `visit` returns false. Leaving a `for await` early
 * only destroys the Node stream; the gRPC call stays open (held by flow control, one of
 * the server's HTTP/2 streams) until cancelled, so an early stop cancels it.
 * Resolves true when the read ended by itself.
 */
export async function consume<T>(
  read: StreamingRead<T>,
  visit: (item: T) => boolean,
): Promise<boolean> {
  let ended = false;
  try {
    for await (const item of read) {
      if (!visit(item)) return false;
    }
    ended = true;
    return true;
  } finally {
    if (!ended) await read.cancel().catch(() => undefined);
  }
}
