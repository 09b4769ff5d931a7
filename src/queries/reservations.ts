import type { Db } from '../projections/database.js';

/** The caller's own reservation; a hold past its time reads as expired at once. */
export async function findReservation(db: Db, reservationId: string, now: Date) {
  const row = await db
    .selectFrom('reservations')
    .select([
      'reservation_id',
      'concert_time_id',
      'seat_id',
      'user_id',
      'price',
      'status',
      'hold_expires_at',
    ])
    .where('reservation_id', '=', reservationId)
    .executeTakeFirst();
  if (!row) return undefined;
  const timedOut = row.status === 'holding' && row.hold_expires_at <= now;
  return {
    reservationId: row.reservation_id,
    concertTimeId: row.concert_time_id,
    seatId: row.seat_id,
    userId: row.user_id,
    price: row.price,
    status: timedOut ? ('expired' as const) : row.status,
    holdExpiresAt: row.hold_expires_at.toISOString(),
  };
}
