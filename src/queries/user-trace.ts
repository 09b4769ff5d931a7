import { parseRecorded } from '../events/domain-event.js';
import { paymentStream } from '../events/payment.js';
import { queueStream } from '../events/queue.js';
import { seatStream } from '../events/seat.js';
import { comparePositions, type EventStore, type RecordedEvent } from '../events/store/port.js';
import { tokenStream } from '../events/token.js';
import { walletStream } from '../events/wallet.js';
import type { Db } from '../projections/database.js';
import { toHistoryEntry, type HistoryEntry } from './streams.js';

export type TraceEntry = HistoryEntry & { readonly stream: string };

/**
 * Everything that happened to one user, in log order: their token and wallet streams,
 * their payments, and the events of the seats they held that concern their own
 * reservations (another holder's events on the same seat are not theirs to see).
 * The read models only say which streams to read; the events come from the log.
 */
export async function traceUser(
  deps: { store: EventStore; db: Db },
  userId: string,
): Promise<TraceEntry[]> {
  const [reservations, payments] = await Promise.all([
    deps.db
      .selectFrom('reservations')
      .select(['reservation_id', 'seat_id'])
      .where('user_id', '=', userId)
      .execute(),
    deps.db.selectFrom('payments').select('payment_id').where('user_id', '=', userId).execute(),
  ]);
  const own = new Set(reservations.map((row) => row.reservation_id));
  const concernsUser = (event: RecordedEvent) => {
    const { data } = parseRecorded(event);
    return (
      ('userId' in data && data.userId === userId) ||
      ('reservationId' in data && own.has(data.reservationId))
    );
  };
  const streams: [string, (event: RecordedEvent) => boolean][] = [
    [tokenStream(userId), () => true],
    [walletStream(userId), () => true],
    ...payments.map((row): [string, () => boolean] => [paymentStream(row.payment_id), () => true]),
    ...[...new Set(reservations.map((row) => row.seat_id))].map(
      (seatId): [string, typeof concernsUser] => [seatStream(seatId), concernsUser],
    ),
  ];
  const read = await Promise.all(
    streams.map(async ([name, keep]) => (await deps.store.readStream(name)).filter(keep)),
  );
  const entries = read
    .flat()
    .map((event) => ({ event, entry: { stream: event.streamName, ...toHistoryEntry(event) } }));
  // The user's place in any opening draw: the draw's data narrowed to their token.
  const drawn = await deps.db
    .selectFrom('tokens')
    .select('token_id')
    .where('user_id', '=', userId)
    .where('draw_round', 'is not', null)
    .execute();
  if (drawn.length > 0) {
    const tokens = new Set(drawn.map((row) => row.token_id));
    for (const event of await deps.store.readStream(queueStream)) {
      const draw = placeInDraw(event, tokens);
      if (draw)
        entries.push({
          event,
          entry: { stream: event.streamName, ...toHistoryEntry(event), data: draw },
        });
    }
  }
  return entries
    .sort((a, b) => comparePositions(a.event.position, b.event.position))
    .map(({ entry }) => entry);
}

function placeInDraw(event: RecordedEvent, tokens: ReadonlySet<string>) {
  if (event.type !== 'PrequeueDrawn') return undefined;
  const parsed = parseRecorded(event);
  if (parsed.type !== 'PrequeueDrawn') return undefined;
  const { round, order, drawnAt } = parsed.data;
  const index = order.findIndex((tokenId) => tokens.has(tokenId));
  if (index < 0) return undefined;
  return { round, tokenId: order[index], place: index + 1, of: order.length, drawnAt };
}
