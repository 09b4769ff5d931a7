import type { ServerResponse } from 'node:http';
import type { TokenView } from '../queries/tokens.js';
import { SseConnection } from './sse.js';

// A waiting stream's state and its event ids: what the client has been told, so that a
// move, a new estimate or a reconnect's Last-Event-ID can be compared with it.

/**
 * One open `GET /queue/tokens/current/events`. Plain fields only (a few hundred bytes):
 * no closures, timers or subscriptions per stream.
 */
export class TokenStream extends SseConnection {
  /**
   * opening: queue number not read yet; waiting: placed by the placement alone;
   * prequeued: no number until the draw, told the shared pre-queue payload;
   * watched: admitted (or about to be), its row is read each round.
   */
  phase: 'opening' | 'waiting' | 'prequeued' | 'watched' = 'opening';
  queueNumber = 0;
  /** A waiting token's JSON fields that do not move while it waits, without the `{`. */
  fixed = '';
  /** The waiting place the client has (0: none), else the id of the view it has. */
  lastPosition = 0;
  lastPlace: string | undefined;
  /** The estimate it has: a change of it alone (a pause, a new rate) is news too. */
  lastEstimate: number | null | undefined;
  lastMessageAt = Number.NEGATIVE_INFINITY;
  constructor(
    response: ServerResponse,
    readonly tokenId: string,
  ) {
    super(response);
  }
}

/** The SSE `id:` of a view that is not a waiting place: `pass`, `expired`, `q<opensAt ms>`. */
export const placeOf = (view: TokenView): string =>
  view.status !== 'hold' ? view.status : prequeueEventId(view.opensAt ?? null);
export const prequeueEventId = (opensAt: string | null) =>
  `q${opensAt === null ? 0 : Date.parse(opensAt)}`;

/**
 * A waiting place's `id:` carries the estimate told with it (`h12e340`, `h12e` while
 * paused), so a reconnect's Last-Event-ID says all the client has: it hears the current
 * state at once unless it already has it. (An id without the estimate, `h12`, is heard as
 * "estimate unknown".)
 */
export const waitingEventId = (position: number, wait: number | null): string =>
  `h${position}e${wait ?? ''}`;

/** What a client that sends `lastEventId` back already has. */
export function toldBefore(stream: TokenStream, lastEventId: string | undefined): void {
  const place = lastEventId === undefined ? null : /^h(\d+)(?:e(\d*))?$/.exec(lastEventId);
  if (!place) {
    stream.lastPlace = lastEventId;
    return;
  }
  stream.lastPosition = Number(place[1]);
  if (place[2] !== undefined) stream.lastEstimate = place[2] === '' ? null : Number(place[2]);
}

/**
 * Whether a new estimate is worth a message by itself: it appears or disappears (a pause
 * or a resume), or moves by more than a tenth and 5 s (a new rate or cap). The seconds
 * ticking down while nothing happens are not: the page counts down by itself.
 */
export function estimateMoved(sent: number | null | undefined, now: number | null): boolean {
  if (sent === now) return false;
  if (sent === null || sent === undefined || now === null) return true;
  return Math.abs(now - sent) > Math.max(5, 0.1 * sent);
}

/** Records what a stream was just told. */
export function told(
  stream: TokenStream,
  position: number,
  place: string | undefined,
  estimate: number | null,
  now: number,
): void {
  stream.lastPosition = position;
  stream.lastPlace = place;
  stream.lastEstimate = estimate;
  stream.lastMessageAt = now;
}

/**
 * A waiting token's JSON fields that do not move while it waits, without the `{`: all
 * but the position, and for a pre-queued one also the pre-queue fields (shared).
 */
export function fixedFields(view: TokenView): string {
  const { position: _position, prequeue: _prequeue, opensAt: _opensAt, ...rest } = view;
  return JSON.stringify(rest).slice(1);
}
